using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>Multi-head causal self-attention with rotary positions and grouped key/value heads.</summary>
public sealed class LlamaAttention : nn.Module
{
    private nn.Module<Tensor, Tensor> q_proj;
    private nn.Module<Tensor, Tensor> k_proj;
    private nn.Module<Tensor, Tensor> v_proj;
    private nn.Module<Tensor, Tensor> o_proj;
    private readonly int nh, nkv, hs, layer;

    public LlamaAttention(LlamaConfig config, int layerIndex, ScalarType dtype = ScalarType.Float32) : base(nameof(LlamaAttention))
    {
        nh = config.NumAttentionHeads; nkv = config.NumKeyValueHeads; hs = config.HeadDim; layer = layerIndex;
        bool qkvBias = config.AttentionBias || config.QkvBias;
        q_proj = nn.Linear(config.HiddenSize, nh * hs, hasBias: qkvBias, dtype: dtype);
        k_proj = nn.Linear(config.HiddenSize, nkv * hs, hasBias: qkvBias, dtype: dtype);
        v_proj = nn.Linear(config.HiddenSize, nkv * hs, hasBias: qkvBias, dtype: dtype);
        o_proj = nn.Linear(nh * hs, config.HiddenSize, hasBias: config.AttentionBias, dtype: dtype);
        RegisterComponents();
    }

    /// <param name="x">(B, T, C)</param>
    /// <param name="cos">(B, 1, T, hs)</param>
    /// <param name="sin">(B, 1, T, hs)</param>
    /// <param name="mask">null for plain causal attention, else a boolean (B, 1, T, S) mask, true = may attend.</param>
    /// <param name="cache">KV cache for incremental decoding, or null.</param>
    public Tensor forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KVCache? cache)
    {
        using var scope = NewDisposeScope();
        long B = x.shape[0], T = x.shape[1];
        var q = SingleRowProduct.Project(q_proj, x).view(B, T, nh, hs).transpose(1, 2);       // (B, nh, T, hs)
        var k = SingleRowProduct.Project(k_proj, x).view(B, T, nkv, hs).transpose(1, 2);      // (B, nkv, T, hs)
        var v = SingleRowProduct.Project(v_proj, x).view(B, T, nkv, hs).transpose(1, 2);      // (B, nkv, T, hs)
        q = LlamaRotaryEmbedding.Apply(q, cos, sin);
        k = LlamaRotaryEmbedding.Apply(k, cos, sin);
        if (cache is not null) (k, v) = cache.Append(layer, k, v);        // (B, nkv, S, hs)
        if (nkv != nh)
        {
            k = k.repeat_interleave(nh / nkv, dim: 1);                     // (B, nh, S, hs)
            v = v.repeat_interleave(nh / nkv, dim: 1);
        }
        var y = mask is null
            ? nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true)
            : nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: mask);   // (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, nh * hs);           // (B, T, C)
        return SingleRowProduct.Project(o_proj, y).MoveToOuterDisposeScope();
    }
}
