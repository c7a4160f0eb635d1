namespace Microsoft.ML.NEFTune.Noise;

/// <summary>Settings of NEFTune noisy embeddings.</summary>
public sealed record NeftuneOptions
{
    /// <summary>The noise scale alpha; the paper uses 5, 10 and 15. 0 turns noise off (bit-identical to plain fine-tuning). Default 5.</summary>
    public double Alpha { get; init; } = 5;

    /// <summary>Which L enters <c>alpha / sqrt(L·d)</c>. Default <see cref="NeftuneScaling.PerSequence"/>.</summary>
    public NeftuneScaling Scaling { get; init; } = NeftuneScaling.PerSequence;

    /// <summary>Noise distribution. Default <see cref="NeftuneDistribution.Uniform"/>.</summary>
    public NeftuneDistribution Distribution { get; init; } = NeftuneDistribution.Uniform;

    public void Validate()
    {
        if (!(Alpha >= 0) || double.IsInfinity(Alpha))
            throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, "The NEFTune noise alpha must be a finite number >= 0.");
    }
}
