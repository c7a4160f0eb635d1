namespace Microsoft.ML.NEFTune.Training;

/// <summary>
/// The names of what a training run writes into its output folder, stated once for the trainer, the CLI, the
/// comparison runner and the tests: <c>metrics.jsonl</c>, <c>checkpoint-STEP/</c> (see <see cref="CheckpointStore"/>),
/// <c>best-model/</c>, and with LoRA the adapter at the top level plus the merged model in <c>merged/</c>.
/// </summary>
public static class OutputLayout
{
    /// <summary>The metrics file (JSON lines): <c>metrics.jsonl</c>.</summary>
    public const string MetricsFileName = "metrics.jsonl";

    /// <summary>The model with the lowest validation loss so far: <c>best-model</c>.</summary>
    public const string BestModelDirectoryName = "best-model";

    /// <summary>With LoRA, the merged model (base + adapter) written at the end: <c>merged</c>.</summary>
    public const string MergedModelDirectoryName = "merged";

    /// <summary>The metrics file of a run folder.</summary>
    public static string MetricsPath(string outputDirectory) => Path.Combine(outputDirectory, MetricsFileName);

    /// <summary>Where a run with <paramref name="options"/> writes its metrics: <see cref="TrainingOptions.MetricsPath"/>, else
    /// <c>OUT/metrics.jsonl</c>, else nowhere (null).</summary>
    public static string? MetricsPath(TrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.MetricsPath ?? (options.OutputDirectory is null ? null : MetricsPath(options.OutputDirectory));
    }

    /// <summary>The best-model folder of a run folder.</summary>
    public static string BestModelDirectory(string outputDirectory) => Path.Combine(outputDirectory, BestModelDirectoryName);

    /// <summary>The merged-model folder of a LoRA run folder.</summary>
    public static string MergedModelDirectory(string outputDirectory) => Path.Combine(outputDirectory, MergedModelDirectoryName);
}
