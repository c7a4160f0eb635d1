using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>
/// The decoder stack of a causal language model family (HF <c>model</c>: <see cref="LlamaModel"/>, <see cref="OptModel"/>):
/// token ids → embeddings (+ noise while training) → blocks → hidden states that the output head turns into logits.
/// </summary>
public abstract class DecoderModel : nn.Module
{
    protected DecoderModel(string name, LlamaConfig config) : base(name) => Config = config;

    public LlamaConfig Config { get; }

    /// <summary>The token embedding; a replacement must keep a parameter named <c>weight</c> of shape (vocab, embedding size).</summary>
    public abstract nn.Module<Tensor, Tensor> EmbedTokens { get; }

    /// <summary>The embedding matrix (vocab, embedding size), also the output head when embeddings are tied.</summary>
    public Parameter EmbeddingWeight => EmbedTokens.get_parameter("weight")
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
    /// all, for about one more forward pass. Gradients equal the plain path. Default off. A family that cannot do it
    /// refuses to have it turned on.
    /// </summary>
    public virtual bool GradientCheckpointing { get; set; }

    /// <summary>Whether this family implements <see cref="GradientCheckpointing"/> (OPT does not).</summary>
    public virtual bool SupportsGradientCheckpointing => true;

    /// <summary>Generators that layers draw from while training (e.g. adapter dropout), replayed when a checkpointed layer is recomputed.</summary>
    public IReadOnlyList<Generator> CheckpointGenerators { get; set; } = Array.Empty<Generator>();

    /// <param name="inputIds">(B, T) int64.</param>
    /// <param name="sequenceIds">null when every position is a real token of one sequence; else (B, S) int64 with
    /// 0 = padding and k &gt; 0 = the k-th sequence packed in the row (S = cached + T positions).</param>
    /// <param name="cache">KV cache for incremental decoding, or null.</param>
    /// <returns>Hidden states (B, T, E) ready for the output head (E = embedding size).</returns>
    public Tensor forward(Tensor inputIds, Tensor? sequenceIds = null, KVCache? cache = null)
    {
        using var scope = NewDisposeScope();
        long T = inputIds.shape[1], past = cache?.Length ?? 0;
        var h = EmbedTokens.call(inputIds);                                              // (B, T, E)
        if (training && embeddingTransform is not null)
            h = embeddingTransform.Apply(h, sequenceIds?.narrow(1, past, T));          // e.g. NEFTune: x + δ
        return ForwardEmbeddings(h, sequenceIds, cache).MoveToOuterDisposeScope();
    }

    /// <summary>The decoder stack from token embeddings (B, T, E) (HF <c>inputs_embeds</c>); no noise is added here.</summary>
    public abstract Tensor ForwardEmbeddings(Tensor inputsEmbeds, Tensor? sequenceIds = null, KVCache? cache = null);

    /// <summary>Replaces the embedding module, keeping its state-dict key (<c>…embed_tokens.weight</c>).</summary>
    public void ReplaceEmbedding(nn.Module<Tensor, Tensor> embedding)
    {
        var weight = embedding.get_parameter("weight") ?? throw new ArgumentException("The embedding must have a parameter named 'weight'.", nameof(embedding));
        if (!weight.shape.SequenceEqual(new long[] { Config.VocabSize, Config.EmbeddingSize }))
            throw new ArgumentException($"The embedding weight must be ({Config.VocabSize}, {Config.EmbeddingSize}).", nameof(embedding));
        embedding.train(training);
        SetEmbedding(embedding);
    }

    /// <summary>Stores <paramref name="embedding"/> in the field and registry slot named <c>embed_tokens</c> (<see cref="ModuleReplacement.ReplaceRegistered"/>).</summary>
    protected abstract void SetEmbedding(nn.Module<Tensor, Tensor> embedding);
}
