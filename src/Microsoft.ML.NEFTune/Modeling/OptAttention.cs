using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>
/// OPT multi-head causal self-attention (HF <c>OPTAttention</c>): biased q/k/v/out projections, queries scaled by
/// <c>head_dim^-0.5</c>, no rotary positions (OPT adds learned positions to the input instead).
/// </summary>
public sealed class OptAttention : nn.Module
{
    private nn.Module<Tensor, Tensor> k_proj;
    private nn.Module<Tensor, Tensor> v_proj;
    private nn.Module<Tensor, Tensor> q_proj;
    private nn.Module<Tensor, Tensor> out_proj;
    private readonly int nh, hs, layer;

    public OptAttention(LlamaConfig config, int layerIndex, ScalarType dtype = ScalarType.Float32) : base(nameof(OptAttention))
    {
        nh = config.NumAttentionHeads; hs = config.HeadDim; layer = layerIndex;
        int C = config.HiddenSize;
        bool bias = config.Opt!.EnableBias;
        k_proj = nn.Linear(C, C, hasBias: bias, dtype: dtype);
        v_proj = nn.Linear(C, C, hasBias: bias, dtype: dtype);
        q_proj = nn.Linear(C, C, hasBias: bias, dtype: dtype);
        out_proj = nn.Linear(C, C, hasBias: bias, dtype: dtype);
        RegisterComponents();
    }

    /// <param name="x">(B, T, C)</param>
    /// <param name="mask">null for plain causal attention, else a boolean (B, 1, T, S) mask, true = may attend.</param>
    /// <param name="cache">KV cache for incremental decoding, or null.</param>
    public Tensor forward(Tensor x, Tensor? mask, KVCache? cache)
    {
        using var scope = NewDisposeScope();
        long B = x.shape[0], T = x.shape[1];
        var q = q_proj.call(x).view(B, T, nh, hs).transpose(1, 2);       // (B, nh, T, hs)
        var k = k_proj.call(x).view(B, T, nh, hs).transpose(1, 2);       // (B, nh, T, hs)
        var v = v_proj.call(x).view(B, T, nh, hs).transpose(1, 2);       // (B, nh, T, hs)
        if (cache is not null) (k, v) = cache.Append(layer, k, v);        // (B, nh, S, hs)
        // softmax(q·kᵀ · hs^-0.5 + mask) · v — the same product as OPT's (q · hs^-0.5) · kᵀ
        var y = mask is null
            ? nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true)
            : nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: mask);   // (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, nh * hs);           // (B, T, C)
        return out_proj.call(y).MoveToOuterDisposeScope();
    }
}
