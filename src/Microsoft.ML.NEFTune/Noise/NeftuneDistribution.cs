namespace Microsoft.ML.NEFTune.Noise;

/// <summary>The distribution of the per-coordinate noise.</summary>
public enum NeftuneDistribution
{
    /// <summary><c>δ ~ Uniform(-1, 1) · alpha / sqrt(L·d)</c> (the paper's method); variance <c>mag² / 3</c>.</summary>
    Uniform,

    /// <summary><c>δ ~ Normal(0, 1) · alpha / sqrt(L·d)</c> (the paper's ablation); standard deviation <c>mag</c>, unbounded.</summary>
    Gaussian,
}
