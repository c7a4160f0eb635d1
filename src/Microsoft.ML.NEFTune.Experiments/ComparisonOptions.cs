using Microsoft.ML.NEFTune.Noise;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Experiments;

/// <summary>A NEFTune comparison: the same fine-tuning for every noise alpha and seed, then losses and responses side by side.</summary>
public sealed record ComparisonOptions
{
    /// <summary>
    /// The fine-tuning every run repeats. Its noise alpha, seed, output folder, metrics path and resume folder are
    /// replaced per run. It needs validation data (a file or a split). Its <see cref="TrainingOptions.Generation"/>
    /// decodes the responses (default: greedy, repetition penalty 1.2, the NEFTune evaluation setting; its
    /// <c>MaxNewTokens</c> caps each response).
    /// </summary>
    public required FineTuningRequest Request { get; init; }

    /// <summary>Noise alphas to compare, e.g. 0 (plain fine-tuning), 5, 10.</summary>
    public required IReadOnlyList<double> Alphas { get; init; }

    /// <summary>
    /// Noise kinds to compare (e.g. uniform, gaussian); null = only the request's kind, in <c>alpha-A/seed-S</c> folders.
    /// With a list, every alpha above 0 runs once per kind in <c>KIND/alpha-A/seed-S</c>; alpha 0 (noise off) runs once.
    /// </summary>
    public IReadOnlyList<INoise>? NoiseKinds { get; init; }

    /// <summary>Seeds of data order, split and noise; each alpha runs once per seed.</summary>
    public required IReadOnlyList<long> Seeds { get; init; }

    /// <summary>The comparison folder: one <c>alpha-A/seed-S</c> run folder each, and the tables.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>Validation prompts each final model answers for the length and diversity columns; 0 = none. Default 32.</summary>
    public int GenerateCount { get; init; } = 32;

    /// <summary>Diversity over each response's first this many words (shorter ones left out); null = whole responses.</summary>
    public int? DiversityPrefixWords { get; init; }

    /// <summary>Prompts generated together. Default 8.</summary>
    public int GenerationBatchSize { get; init; } = 8;

    /// <summary>Keep a finished run's <c>checkpoint-*</c> folders (by default they are deleted once its result is written).</summary>
    public bool KeepCheckpoints { get; init; }

    /// <summary>The compared arms in table order: (null, alpha) without kinds, else alpha 0 once and (kind, alpha) for each kind.</summary>
    public IReadOnlyList<(string? Kind, double Alpha)> Arms =>
        NoiseKinds is null ? Alphas.Select(a => ((string?)null, a)).ToList()
        : Alphas.SelectMany(a => a == 0 ? new[] { ((string?)null, a) } : NoiseKinds.Select(k => ((string?)k.Name, a))).ToList();

    /// <summary>Throws an exception naming the first invalid setting.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Request);
        if (Alphas is null || Alphas.Count == 0) throw new ArgumentException("Give at least one noise alpha.", nameof(Alphas));
        if (Alphas.Any(a => !(a >= 0) || double.IsInfinity(a))) throw new ArgumentOutOfRangeException(nameof(Alphas), "Noise alphas must be finite numbers >= 0.");
        if (Alphas.Distinct().Count() != Alphas.Count) throw new ArgumentException("A noise alpha is given twice.", nameof(Alphas));
        if (NoiseKinds is not null && NoiseKinds.Count == 0) throw new ArgumentException("Give at least one noise kind, or none to use the request's.", nameof(NoiseKinds));
        if (NoiseKinds is not null && NoiseKinds.Select(k => k.Name).Distinct().Count() != NoiseKinds.Count) throw new ArgumentException("A noise kind is given twice.", nameof(NoiseKinds));
        if (Seeds is null || Seeds.Count == 0) throw new ArgumentException("Give at least one seed.", nameof(Seeds));
        if (Seeds.Distinct().Count() != Seeds.Count) throw new ArgumentException("A seed is given twice.", nameof(Seeds));
        if (string.IsNullOrWhiteSpace(OutputDirectory)) throw new ArgumentException("The comparison needs an output folder.", nameof(OutputDirectory));
        if (Request.ValidationDataPath is null && Request.Training.ValidationFraction <= 0)
            throw new ArgumentException("A comparison needs validation data: a validation file or a validation split.", nameof(Request));
        if (GenerateCount < 0) throw new ArgumentOutOfRangeException(nameof(GenerateCount), GenerateCount, "must be >= 0");
        if (DiversityPrefixWords is < 1) throw new ArgumentOutOfRangeException(nameof(DiversityPrefixWords), DiversityPrefixWords, "must be positive");
        if (GenerationBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(GenerationBatchSize), GenerationBatchSize, "must be positive");
        Request.Training.Validate();
        if (GenerateCount > 0 && Request.Training.Generation.MaxNewTokens < 1)
            throw new ArgumentOutOfRangeException(nameof(Request), Request.Training.Generation.MaxNewTokens, "Training.Generation.MaxNewTokens must be positive when responses are generated");
    }
}
