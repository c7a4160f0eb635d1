using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>The decoder stack: token embedding, <c>num_hidden_layers</c> blocks and a final norm (HF <c>LlamaModel</c>).</summary>
public sealed class LlamaModel : DecoderModel
{
    private nn.Module<Tensor, Tensor> embed_tokens;
    private readonly ModuleList<LlamaDecoderLayer> layers;
    private readonly LlamaRMSNorm norm;
    private readonly LlamaRotaryEmbedding rotary;

    public LlamaModel(LlamaConfig config, ScalarType dtype = ScalarType.Float32) : base(nameof(LlamaModel), config)
    {
        embed_tokens = nn.Embedding(config.VocabSize, config.HiddenSize, dtype: dtype);
        layers = nn.ModuleList(Enumerable.Range(0, config.NumHiddenLayers).Select(i => new LlamaDecoderLayer(config, i, dtype)).ToArray());
        norm = new LlamaRMSNorm(config.HiddenSize, config.RmsNormEps, dtype);
        rotary = new LlamaRotaryEmbedding(config);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override nn.Module<Tensor, Tensor> EmbedTokens => embed_tokens;

    /// <summary>The decoder stack from input embeddings (B, T, C) (HF <c>inputs_embeds</c>); no noise is added here.</summary>
    public override Tensor ForwardEmbeddings(Tensor inputsEmbeds, Tensor? sequenceIds = null, KVCache? cache = null)
    {
        using var scope = NewDisposeScope();
        long B = inputsEmbeds.shape[0], T = inputsEmbeds.shape[1], past = cache?.Length ?? 0;
        var h = inputsEmbeds;
        var positions = AttentionMasks.Positions(B, T, sequenceIds, past, h.device);  // (B, T)
        var (cos, sin) = rotary.Compute(positions, h.dtype);                            // (B, 1, T, hs)
        var mask = AttentionMasks.Build(sequenceIds, T, past, h.device, Config.SlidingWindow);   // (B, 1, T, S) or null
        bool checkpoint = GradientCheckpointing && training && cache is null && is_grad_enabled();
        if (checkpoint && !h.requires_grad) h = h.detach().requires_grad_(true);     // the function needs a differentiable input
        foreach (var layer in layers)
            h = checkpoint ? DecoderLayerCheckpoint.Run(layer, h, cos, sin, mask, CheckpointGenerators) : layer.forward(h, cos, sin, mask, cache);
        cache?.Advance(T);
        return norm.call(h).MoveToOuterDisposeScope();
    }

    protected override void SetEmbedding(nn.Module<Tensor, Tensor> embedding)
    {
        embed_tokens = embedding;
        ModuleReplacement.ReplaceRegistered(this, "embed_tokens", embedding);
    }
}
