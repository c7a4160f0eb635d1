using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>
/// A causal language model (HF <c>LlamaForCausalLM</c>, or <c>OPTForCausalLM</c> when the config is OPT's): the
/// family's decoder stack (<see cref="DecoderModel"/>) and an output head, tied to the embedding when
/// <c>tie_word_embeddings</c> is set. Parameter names equal the HF state-dict keys.
/// </summary>
public sealed class LlamaForCausalLM : nn.Module
{
    /// <summary>Labels with this value are ignored by the loss (prompt and padding tokens).</summary>
    public const long IgnoreIndex = -100;

    private readonly DecoderModel model;
    private readonly Linear? lm_head;

    /// <param name="config">The model's shape.</param>
    /// <param name="dtype">Dtype the parameters are created in (default float32); creating them directly in bfloat16
    /// halves the memory a loader needs compared with converting after the fact.</param>
    public LlamaForCausalLM(LlamaConfig config, ScalarType dtype = ScalarType.Float32) : base(nameof(LlamaForCausalLM))
    {
        config.Validate();
        Config = config;
        model = config.Opt is null ? new LlamaModel(config, dtype) : new OptModel(config, dtype);
        if (!config.TieWordEmbeddings) lm_head = nn.Linear(config.EmbeddingSize, config.VocabSize, hasBias: false, dtype: dtype);
        RegisterComponents();
    }

    public LlamaConfig Config { get; }

    /// <summary>The decoder stack (HF <c>model</c>).</summary>
    public DecoderModel Model => model;

    /// <summary>Next-token logits (B, T, V).</summary>
    public Tensor forward(Tensor inputIds, Tensor? sequenceIds = null, KVCache? cache = null)
    {
        using var h = model.forward(inputIds, sequenceIds, cache);                       // (B, T, C)
        return Head(h);                                                                   // (B, T, V)
    }

    /// <summary>Logits from input embeddings (B, T, C) instead of ids.</summary>
    public Tensor ForwardEmbeddings(Tensor inputsEmbeds, Tensor? sequenceIds = null, KVCache? cache = null)
    {
        using var h = model.ForwardEmbeddings(inputsEmbeds, sequenceIds, cache);
        return Head(h);
    }

    private Tensor Head(Tensor h) => lm_head is not null ? SingleRowProduct.Project(lm_head, h)
        : SingleRowProduct.Applies(h, model.EmbeddingWeight) ? SingleRowProduct.Linear(h, model.EmbeddingWeight, null)
        : nn.functional.linear(h, model.EmbeddingWeight);

    /// <summary>The (V, C) output head weight: <c>lm_head.weight</c>, or the embedding matrix when tied.</summary>
    public Tensor HeadWeight => lm_head?.weight ?? model.EmbeddingWeight;

    /// <summary>
    /// Logits (B, V) of the token after the last position only: prefill does not turn every prompt position into
    /// logits. <paramref name="headTransposed"/>, a contiguous (C, V) copy of <see cref="HeadWeight"/>, makes the
    /// product a plain row-times-matrix one, which is faster than <c>linear</c> for a single row.
    /// </summary>
    public Tensor NextTokenLogits(Tensor inputIds, Tensor? sequenceIds, KVCache? cache, Tensor? headTransposed = null)
    {
        using var h = model.forward(inputIds, sequenceIds, cache);                        // (B, T, C)
        using var last = h.select(1, -1);                                                 // (B, C)
        return headTransposed is null ? Head(last) : last.matmul(headTransposed);         // (B, V)
    }

    /// <summary>
    /// Sum of next-token cross-entropies over labelled positions and their count; the model shifts the labels
    /// (position t predicts labels[t+1]), positions labelled <see cref="IgnoreIndex"/> do not count.
    /// </summary>
    public (Tensor LossSum, long TokenCount) LossSum(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        long V = logits.shape[2], T = logits.shape[1];
        var shiftLogits = logits.narrow(1, 0, T - 1).reshape(-1, V).to_type(ScalarType.Float32);   // (B·(T-1), V)
        var shiftLabels = labels.narrow(1, 1, T - 1).reshape(-1);                                    // (B·(T-1))
        long count = shiftLabels.ne(IgnoreIndex).sum().item<long>();
        var loss = nn.functional.cross_entropy(shiftLogits, shiftLabels, ignore_index: IgnoreIndex, reduction: nn.Reduction.Sum);
        return (loss.MoveToOuterDisposeScope(), count);
    }

    /// <summary>
    /// The same loss as <see cref="LossSum(Tensor, Tensor)"/> computed from the input ids, sending only labelled
    /// positions through the output head (with response-only labels most prompt positions never become logits) and
    /// fusing head and cross-entropy so that the (N, V) logits are never held (<see cref="LinearCrossEntropy"/>).
    /// </summary>
    public (Tensor LossSum, long TokenCount) LossSum(Tensor inputIds, Tensor labels, Tensor? sequenceIds)
    {
        using var scope = NewDisposeScope();
        long C = Config.EmbeddingSize, T = inputIds.shape[1];
        var h = model.forward(inputIds, sequenceIds);                                               // (B, T, C)
        var shiftLabels = labels.narrow(1, 1, T - 1).reshape(-1);                                    // (B·(T-1))
        var keep = shiftLabels.ne(IgnoreIndex).nonzero().squeeze(1);                                 // (N)
        long count = keep.shape[0];
        var hidden = h.narrow(1, 0, T - 1).reshape(-1, C).index_select(0, keep);                    // (N, C)
        var loss = LinearCrossEntropy.Sum(hidden, HeadWeight, shiftLabels.index_select(0, keep));     // Σ −log p(y | h)
        return (loss.MoveToOuterDisposeScope(), count);
    }

    /// <summary>Mean next-token cross-entropy over labelled positions.</summary>
    public Tensor Loss(Tensor inputIds, Tensor labels, Tensor? sequenceIds = null)
    {
        using var scope = NewDisposeScope();
        var (sum, count) = LossSum(inputIds, labels, sequenceIds);
        return (sum / Math.Max(count, 1)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Initialises weights as HF Llama and OPT do: normal(0, initializer_range) for matrices and embeddings, ones for
    /// norm weights, zeros for biases.
    /// </summary>
    public void InitializeWeights(long seed)
    {
        using var _ = no_grad();
        var generator = new Generator((ulong)seed);
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("norm.weight")) p.fill_(1.0);
            else if (name.EndsWith(".bias")) p.zero_();
            else p.normal_(0, Config.InitializerRange, generator);
        }
    }

    /// <summary>Number of parameters (tied weights counted once).</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());
}
