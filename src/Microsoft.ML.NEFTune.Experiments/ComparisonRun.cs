using System.Globalization;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Experiments;

/// <summary>How a run of a comparison starts.</summary>
public enum ComparisonRunStart
{
    /// <summary>Its result is already written: nothing to do.</summary>
    Done,

    /// <summary>Trained to the end earlier, but its responses were not measured yet.</summary>
    EvaluateOnly,

    /// <summary>Interrupted earlier: continues from its newest checkpoint.</summary>
    Resume,

    /// <summary>Starts from the beginning.</summary>
    Fresh,
}

/// <summary>
/// One alpha × seed run of a comparison and its folder <c>OUT/alpha-A/seed-S</c>, or <c>OUT/KIND/alpha-A/seed-S</c>
/// when the comparison names noise kinds (<paramref name="Kind"/>; null = the request's kind or noise off).
/// </summary>
public sealed record ComparisonRun(double Alpha, long Seed, string Directory, string? Kind = null)
{
    public const string ResultFileName = "result.json";

    /// <summary><c>alpha-A/seed-S</c> or <c>KIND/alpha-A/seed-S</c>.</summary>
    public string Name => $"{(Kind is null ? "" : Kind + "/")}{FolderName(Alpha)}/seed-{Seed.ToString(CultureInfo.InvariantCulture)}";

    public string ResultPath => Path.Combine(Directory, ResultFileName);
    public string MetricsPath => OutputLayout.MetricsPath(Directory);

    /// <summary>The final model was written (its <c>config.json</c> is written last).</summary>
    public bool HasFinalModel => File.Exists(Path.Combine(Directory, "config.json")) && File.Exists(Path.Combine(Directory, "model.safetensors"));

    /// <summary>The newest complete checkpoint folder, or null.</summary>
    public string? LatestCheckpoint => CheckpointStore.List(Directory) is { Count: > 0 } all ? all[^1].Path : null;

    /// <summary>What running it now would do.</summary>
    public ComparisonRunStart Start =>
        File.Exists(ResultPath) ? ComparisonRunStart.Done
        : HasFinalModel && File.Exists(MetricsPath) ? ComparisonRunStart.EvaluateOnly
        : LatestCheckpoint is not null ? ComparisonRunStart.Resume
        : ComparisonRunStart.Fresh;

    /// <summary><c>alpha-A</c> with A in the shortest round-trip form (alpha-0, alpha-5, alpha-2.5).</summary>
    public static string FolderName(double alpha) => "alpha-" + alpha.ToString("R", CultureInfo.InvariantCulture);
}
