namespace Microsoft.ML.NEFTune.Generation;

/// <summary>Decoding settings. The defaults give greedy decoding, which with a repetition penalty of 1.2 is the NEFTune authors' evaluation setting.</summary>
public sealed record GenerationOptions
{
    /// <summary>Maximum number of tokens to generate. Default 128.</summary>
    public int MaxNewTokens { get; init; } = 128;

    /// <summary>Sampling temperature; 0 means greedy (argmax). Default 0.</summary>
    public double Temperature { get; init; }

    /// <summary>Keep only the k most likely tokens when sampling; 0 = off. Default 0.</summary>
    public int TopK { get; init; }

    /// <summary>Nucleus sampling: keep the smallest set of tokens whose probability reaches p; 1 = off. Default 1.</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>HF-style repetition penalty over prompt and generated tokens (logit/p if positive, logit·p if negative); 1 = off. Default 1.</summary>
    public double RepetitionPenalty { get; init; } = 1.0;

    /// <summary>Seed of the sampling generator. Default 0.</summary>
    public long Seed { get; init; }

    /// <summary>Generation stops when the decoded output contains one of these strings (which is cut off). Default none.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = Array.Empty<string>();

    /// <summary>End-of-sequence ids; null = those of the model config.</summary>
    public IReadOnlyList<int>? EosTokenIds { get; init; }

    /// <summary>Use the key/value cache (incremental decoding). Default true.</summary>
    public bool UseCache { get; init; } = true;

    public void Validate()
    {
        if (MaxNewTokens < 0) throw new ArgumentOutOfRangeException(nameof(MaxNewTokens), MaxNewTokens, "must be >= 0");
        if (!(Temperature >= 0)) throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "must be >= 0");
        if (TopK < 0) throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "must be >= 0");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "must be in (0, 1]");
        if (!(RepetitionPenalty > 0)) throw new ArgumentOutOfRangeException(nameof(RepetitionPenalty), RepetitionPenalty, "must be > 0");
    }
}
