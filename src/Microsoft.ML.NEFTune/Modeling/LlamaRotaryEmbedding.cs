using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>
/// Rotary position embedding in the rotate-half convention of Hugging Face Llama:
/// <c>q' = q·cos + rotate_half(q)·sin</c>, with angles <c>pos · theta^(-2i/d)</c> (optionally rescaled).
/// Holds no parameters, so nothing appears in the state dict.
/// </summary>
public sealed class LlamaRotaryEmbedding
{
    private readonly double[] invFreq;

    public LlamaRotaryEmbedding(LlamaConfig config)
    {
        int d = config.HeadDim;
        var baseFreq = Enumerable.Range(0, d / 2).Select(i => 1.0 / Math.Pow(config.RopeTheta, 2.0 * i / d)).ToArray();
        invFreq = config.RopeScaling?.Scale(baseFreq) ?? baseFreq;
    }

    /// <summary>cos and sin tables for the given positions. positions: (B, T) int64 → each (B, 1, T, hs) in <paramref name="dtype"/>.</summary>
    public (Tensor Cos, Tensor Sin) Compute(Tensor positions, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var inv = tensor(invFreq, dtype: ScalarType.Float32, device: positions.device);   // (hs/2)
        var freqs = positions.to_type(ScalarType.Float32).unsqueeze(-1) * inv;              // (B, T, hs/2)
        var emb = cat(new[] { freqs, freqs }, -1).unsqueeze(1);                           // (B, 1, T, hs)
        return scope.MoveToOuter(emb.cos().to_type(dtype), emb.sin().to_type(dtype));
    }

    /// <summary>x: (B, nh, T, hs).</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin) => x * cos + RotateHalf(x) * sin;

    private static Tensor RotateHalf(Tensor x)
    {
        long half = x.shape[^1] / 2;
        using var x1 = x.narrow(-1, 0, half);
        using var x2 = x.narrow(-1, half, half);
        using var neg = x2.neg();
        return cat(new[] { neg, x1 }, -1);
    }
}
