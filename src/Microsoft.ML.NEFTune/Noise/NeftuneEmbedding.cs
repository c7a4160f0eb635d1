using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Noise;

/// <summary>
/// A token embedding with NEFTune noise, for any TorchSharp model: it shares the original embedding's
/// <c>weight</c> parameter (so the state-dict key stays <c>…embed_tokens.weight</c>) and adds noise in its own
/// <c>forward</c> — not through a hook, which TorchSharp runs only for <c>call()</c> — while in training mode.
/// </summary>
public sealed class NeftuneEmbedding : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;

    public NeftuneEmbedding(Embedding embedding, NeftuneNoise noise) : base(nameof(NeftuneEmbedding))
    {
        ArgumentNullException.ThrowIfNull(embedding);
        weight = embedding.weight ?? throw new ArgumentException("The embedding has no weight.", nameof(embedding));
        Noise = noise ?? throw new ArgumentNullException(nameof(noise));
        RegisterComponents();
    }

    public NeftuneNoise Noise { get; }

    /// <summary>
    /// Sequence ids (B, T) of the next batch (0 = padding, k &gt; 0 = k-th packed example) for
    /// <see cref="NeftuneScaling.PerSequence"/>; null treats every position as a real token of one sequence.
    /// </summary>
    public Tensor? SequenceIds { get; set; }

    public override Tensor forward(Tensor inputIds)
    {
        using var scope = NewDisposeScope();
        var shape = inputIds.shape.Append(weight.shape[1]).ToArray();
        var embeds = weight.index_select(0, inputIds.flatten()).view(shape);             // (B, T, d)
        if (training) embeds = Noise.Apply(embeds, SequenceIds);
        return embeds.MoveToOuterDisposeScope();
    }
}
