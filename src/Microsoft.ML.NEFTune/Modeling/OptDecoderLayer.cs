using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>
/// OPT transformer block (HF <c>OPTDecoderLayer</c>) with a ReLU feed-forward. Pre-norm
/// (<c>do_layer_norm_before</c>, OPT-125m, 1.3b, 6.7b…): <c>h = x + attn(ln1(x)); y = h + fc2(relu(fc1(ln2(h))))</c>.
/// Post-norm (OPT-350m): <c>h = ln1(x + attn(x)); y = ln2(h + fc2(relu(fc1(h))))</c>.
/// </summary>
public sealed class OptDecoderLayer : nn.Module
{
    private readonly OptAttention self_attn;
    private readonly LayerNorm self_attn_layer_norm;
    private nn.Module<Tensor, Tensor> fc1;
    private nn.Module<Tensor, Tensor> fc2;
    private readonly LayerNorm final_layer_norm;
    private readonly bool normBefore;

    public OptDecoderLayer(LlamaConfig config, int layerIndex, ScalarType dtype = ScalarType.Float32) : base(nameof(OptDecoderLayer))
    {
        var opt = config.Opt!;
        normBefore = opt.DoLayerNormBefore;
        self_attn = new OptAttention(config, layerIndex, dtype);
        self_attn_layer_norm = nn.LayerNorm(config.HiddenSize, OptSettings.LayerNormEps, elementwise_affine: opt.LayerNormElementwiseAffine, dtype: dtype);
        fc1 = nn.Linear(config.HiddenSize, config.IntermediateSize, hasBias: opt.EnableBias, dtype: dtype);
        fc2 = nn.Linear(config.IntermediateSize, config.HiddenSize, hasBias: opt.EnableBias, dtype: dtype);
        final_layer_norm = nn.LayerNorm(config.HiddenSize, OptSettings.LayerNormEps, elementwise_affine: opt.LayerNormElementwiseAffine, dtype: dtype);
        RegisterComponents();
    }

    /// <param name="x">(B, T, C)</param>
    /// <param name="mask">null for plain causal attention, else a boolean (B, 1, T, S) mask.</param>
    /// <param name="cache">KV cache for incremental decoding, or null.</param>
    public Tensor forward(Tensor x, Tensor? mask, KVCache? cache)
    {
        using var scope = NewDisposeScope();
        Tensor h, y;
        if (normBefore)
        {
            h = x.Plus(self_attn.forward(self_attn_layer_norm.call(x), mask, cache));                // x + attn(ln1(x)), (B, T, C)
            y = h.Plus(fc2.call(nn.functional.relu(fc1.call(final_layer_norm.call(h)))));            // h + fc2(relu(fc1(ln2(h))))
        }
        else
        {
            h = self_attn_layer_norm.call(x.Plus(self_attn.forward(x, mask, cache)));                // ln1(x + attn(x)), (B, T, C)
            y = final_layer_norm.call(h.Plus(fc2.call(nn.functional.relu(fc1.call(h)))));            // ln2(h + fc2(relu(fc1(h))))
        }
        return y.MoveToOuterDisposeScope();
    }
}
