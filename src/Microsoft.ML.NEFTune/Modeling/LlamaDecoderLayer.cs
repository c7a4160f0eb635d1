using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>Pre-norm transformer block: <c>h = x + attn(norm(x)); y = h + mlp(norm(h))</c>.</summary>
public sealed class LlamaDecoderLayer : nn.Module
{
    private readonly LlamaRMSNorm input_layernorm;
    private readonly LlamaAttention self_attn;
    private readonly LlamaRMSNorm post_attention_layernorm;
    private readonly LlamaMLP mlp;

    public LlamaDecoderLayer(LlamaConfig config, int layerIndex, ScalarType dtype = ScalarType.Float32) : base(nameof(LlamaDecoderLayer))
    {
        input_layernorm = new LlamaRMSNorm(config.HiddenSize, config.RmsNormEps, dtype);
        self_attn = new LlamaAttention(config, layerIndex, dtype);
        post_attention_layernorm = new LlamaRMSNorm(config.HiddenSize, config.RmsNormEps, dtype);
        mlp = new LlamaMLP(config, dtype);
        RegisterComponents();
    }

    public Tensor forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KVCache? cache)
    {
        using var scope = NewDisposeScope();
        var h = x.Plus(self_attn.forward(input_layernorm.call(x), cos, sin, mask, cache));   // x + attn(ln(x)), (B, T, C)
        return h.Plus(mlp.call(post_attention_layernorm.call(h))).MoveToOuterDisposeScope();   // h + mlp(ln(h))
    }
}
