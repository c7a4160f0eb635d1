using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>The decoder stack: token embedding, <c>num_hidden_layers</c> blocks and a final norm (HF <c>LlamaModel</c>).</summary>
public sealed class LlamaModel : nn.Module
{
    private nn.Module<Tensor, Tensor> embed_tokens;
    private readonly ModuleList<LlamaDecoderLayer> layers;
    private readonly LlamaRMSNorm norm;
    private readonly LlamaRotaryEmbedding rotary;

    public LlamaModel(LlamaConfig config, ScalarType dtype = ScalarType.Float32) : base(nameof(LlamaModel))
    {
        Config = config;
        embed_tokens = nn.Embedding(config.VocabSize, config.HiddenSize, dtype: dtype);
        layers = nn.ModuleList(Enumerable.Range(0, config.NumHiddenLayers).Select(i => new LlamaDecoderLayer(config, i, dtype)).ToArray());
        norm = new LlamaRMSNorm(config.HiddenSize, config.RmsNormEps, dtype);
        rotary = new LlamaRotaryEmbedding(config);
        RegisterComponents();
    }

    public LlamaConfig Config { get; }

    /// <summary>The token embedding; a replacement must keep a parameter named <c>weight</c> of shape (vocab, hidden).</summary>
    public nn.Module<Tensor, Tensor> EmbedTokens => embed_tokens;

    /// <summary>The embedding matrix (vocab, hidden), also the output head when embeddings are tied.</summary>
    public Parameter EmbeddingWeight => embed_tokens.get_parameter("weight")
        ?? throw new InvalidOperationException("The embedding module has no 'weight' parameter.");

    /// <summary>
    /// The transform of the input embeddings applied in training mode (e.g. NEFTune noise); null for none. One at a
    /// time: setting a transform while another is attached throws, naming both; set null to detach.
    /// </summary>
    /// <exception cref="InvalidOperationException">Another transform is attached.</exception>
    public IEmbeddingTransform? EmbeddingTransform
    {
        get => embeddingTransform;
        set
        {
            if (value is not null && embeddingTransform is not null && !ReferenceEquals(value, embeddingTransform))
                throw new InvalidOperationException(
                    $"The model already has {embeddingTransform.Description} on its input embeddings; {value.Description} cannot be added as well. Detach the first (EmbeddingTransform = null) to replace it.");
            embeddingTransform = value;
        }
    }

    private IEmbeddingTransform? embeddingTransform;

    /// <summary>
    /// When set, in training mode with gradients on and no KV cache, each decoder layer keeps only its input and is
    /// recomputed during backward (<see cref="DecoderLayerCheckpoint"/>): activation memory of one layer instead of
    /// all, for about one more forward pass. Gradients equal the plain path. Default off.
    /// </summary>
    public bool GradientCheckpointing { get; set; }

    /// <summary>Generators that layers draw from while training (e.g. adapter dropout), replayed when a checkpointed layer is recomputed.</summary>
    public IReadOnlyList<Generator> CheckpointGenerators { get; set; } = Array.Empty<Generator>();

    /// <param name="inputIds">(B, T) int64.</param>
    /// <param name="sequenceIds">null when every position is a real token of one sequence; else (B, S) int64 with
    /// 0 = padding and k &gt; 0 = the k-th sequence packed in the row (S = cached + T positions).</param>
    /// <param name="cache">KV cache for incremental decoding, or null.</param>
    /// <returns>Hidden states (B, T, C).</returns>
    public Tensor forward(Tensor inputIds, Tensor? sequenceIds = null, KVCache? cache = null)
    {
        using var scope = NewDisposeScope();
        long T = inputIds.shape[1], past = cache?.Length ?? 0;
        var h = embed_tokens.call(inputIds);                                            // (B, T, C)
        if (training && embeddingTransform is not null)
            h = embeddingTransform.Apply(h, sequenceIds?.narrow(1, past, T));         // e.g. NEFTune: x + δ
        return ForwardEmbeddings(h, sequenceIds, cache).MoveToOuterDisposeScope();
    }

    /// <summary>The decoder stack from input embeddings (B, T, C) (HF <c>inputs_embeds</c>); no noise is added here.</summary>
    public Tensor ForwardEmbeddings(Tensor inputsEmbeds, Tensor? sequenceIds = null, KVCache? cache = null)
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

    /// <summary>Replaces the embedding module, keeping the state-dict key <c>embed_tokens.weight</c>.</summary>
    public void ReplaceEmbedding(nn.Module<Tensor, Tensor> embedding)
    {
        var weight = embedding.get_parameter("weight") ?? throw new ArgumentException("The embedding must have a parameter named 'weight'.", nameof(embedding));
        if (!weight.shape.SequenceEqual(new long[] { Config.VocabSize, Config.HiddenSize }))
            throw new ArgumentException($"The embedding weight must be ({Config.VocabSize}, {Config.HiddenSize}).", nameof(embedding));
        embedding.train(training);
        embed_tokens = embedding;
        ModuleReplacement.ReplaceRegistered(this, "embed_tokens", embedding);
    }
}
