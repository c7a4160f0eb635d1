using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>
/// Rotary position embedding in the rotate-half convention of Hugging Face Llama:
/// <c>q' = q·cos + rotate_half(q)·sin</c>, with angles <c>pos · inv_freq</c>. The inverse frequencies are
/// <c>theta^(-2i/d)</c> rescaled as the config's <c>rope_scaling</c> says; <c>dynamic</c> and <c>longrope</c> choose
/// them per forward pass from its largest position, as HF's <c>dynamic_rope_update</c> does (keys already in a KV cache
/// keep the rotation they were computed with, as in HF). Holds no parameters, so nothing appears in the state dict.
/// </summary>
public sealed class LlamaRotaryEmbedding
{
    private readonly LlamaConfig config;
    private readonly RopeScaling? scaling;
    private readonly double[] invFreq;        // every pass whose frequencies do not depend on its length
    private readonly double[]? longInvFreq;   // longrope beyond original_max_position_embeddings
    private readonly double attentionFactor;

    public LlamaRotaryEmbedding(LlamaConfig config)
    {
        this.config = config;
        scaling = config.RopeScaling;
        int d = config.HeadDim;
        invFreq = Base(config.RopeTheta);
        attentionFactor = 1;
        switch (scaling?.Type)
        {
            case "linear":
                invFreq = invFreq.Select(f => f / scaling.Factor).ToArray();
                break;
            case "llama3":
                invFreq = Llama3(invFreq, scaling);
                break;
            case "longrope":
                int original = config.OriginalMaxPositionEmbeddings ?? config.MaxPositionEmbeddings;
                double factor = config.OriginalMaxPositionEmbeddings is int o ? (double)config.MaxPositionEmbeddings / o : scaling.Factor;
                attentionFactor = scaling.AttentionFactor ?? (factor <= 1 ? 1 : Math.Sqrt(1 + Math.Log(factor) / Math.Log(original)));
                invFreq = invFreq.Zip(scaling.ShortFactor!, (f, s) => f / s).ToArray();
                longInvFreq = Base(config.RopeTheta).Zip(scaling.LongFactor!, (f, s) => f / s).ToArray();
                break;
        }
    }

    /// <summary>Whether the frequencies depend on the largest position of a pass (<c>dynamic</c>, <c>longrope</c>).</summary>
    public bool DependsOnLength => scaling?.Type is "dynamic" or "longrope";

    /// <summary>The inverse frequencies (hs/2) for a forward pass whose largest position is <paramref name="length"/> − 1.</summary>
    public double[] InverseFrequencies(long length)
    {
        if (scaling?.Type == "dynamic" && length > config.MaxPositionEmbeddings)
        {
            // NTK-aware: base · (factor · L / max − (factor − 1))^(d / (d − 2))
            int d = config.HeadDim;
            double ratio = scaling.Factor * length / config.MaxPositionEmbeddings - (scaling.Factor - 1);
            return Base(config.RopeTheta * Math.Pow(ratio, d / (d - 2.0)));
        }
        if (longInvFreq is not null && length > (config.OriginalMaxPositionEmbeddings ?? config.MaxPositionEmbeddings)) return longInvFreq;
        return invFreq;
    }

    /// <summary>cos and sin tables for the given positions. positions: (B, T) int64 → each (B, 1, T, hs) in <paramref name="dtype"/>.</summary>
    public (Tensor Cos, Tensor Sin) Compute(Tensor positions, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var frequencies = DependsOnLength ? InverseFrequencies(positions.max().item<long>() + 1) : invFreq;
        var inv = tensor(frequencies, dtype: ScalarType.Float32, device: positions.device);   // (hs/2)
        var freqs = positions.to_type(ScalarType.Float32).unsqueeze(-1) * inv;               // (B, T, hs/2)
        var emb = cat(new[] { freqs, freqs }, -1).unsqueeze(1);                             // (B, 1, T, hs)
        var (cos, sin) = (emb.cos(), emb.sin());
        if (attentionFactor != 1) (cos, sin) = (cos * attentionFactor, sin * attentionFactor);   // longrope scaling
        return scope.MoveToOuter(cos.to_type(dtype), sin.to_type(dtype));
    }

    /// <summary>x: (B, nh, T, hs).</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin) => (x * cos).Plus(RotateHalf(x) * sin);   // x·cos + rot(x)·sin

    private double[] Base(double theta)
    {
        int d = config.HeadDim;
        return Enumerable.Range(0, d / 2).Select(i => 1.0 / Math.Pow(theta, 2.0 * i / d)).ToArray();
    }

    /// <summary>Llama 3.1: low frequencies divided by the factor, high ones kept, a smooth blend between.</summary>
    private static double[] Llama3(double[] invFreq, RopeScaling s)
    {
        double lowWavelen = s.OriginalMaxPositionEmbeddings / s.LowFreqFactor;
        double highWavelen = s.OriginalMaxPositionEmbeddings / s.HighFreqFactor;
        return invFreq.Select(f =>
        {
            double wavelen = 2 * Math.PI / f;
            if (wavelen < highWavelen) return f;
            if (wavelen > lowWavelen) return f / s.Factor;
            double smooth = (s.OriginalMaxPositionEmbeddings / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
            return (1 - smooth) * f / s.Factor + smooth * f;
        }).ToArray();
    }

    private static Tensor RotateHalf(Tensor x)
    {
        long half = x.shape[^1] / 2;
        using var x1 = x.narrow(-1, 0, half);
        using var x2 = x.narrow(-1, half, half);
        using var neg = x2.neg();
        return cat(new[] { neg, x1 }, -1);
    }
}
