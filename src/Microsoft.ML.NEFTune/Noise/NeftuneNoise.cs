using Microsoft.ML.NEFTune.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Noise;

/// <summary>
/// Draws NEFTune noise for a batch of embeddings: <c>x + δ</c>, <c>δ = u · alpha / sqrt(L·d)</c> with <c>u</c> from
/// the noise kind (<see cref="NeftuneOptions.EffectiveKind"/>), <c>d</c> the embedding size and <c>L</c> chosen by
/// <see cref="NeftuneScaling"/>. The noise is drawn from its own seeded generator and is never part of the autograd
/// graph. Attach it to a model as its <see cref="DecoderModel.EmbeddingTransform"/> (<see cref="Neftune.Attach(LlamaForCausalLM, NeftuneOptions, long)"/>).
/// </summary>
public sealed class NeftuneNoise : IEmbeddingTransform, IDisposable
{
    public NeftuneNoise(NeftuneOptions options, long seed, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        Generator = new Generator((ulong)seed, device ?? CPU);
    }

    public NeftuneOptions Options { get; }

    /// <inheritdoc/>
    public string Description => Options.Describe();

    /// <summary>The generator the noise is drawn from; its state is saved in checkpoints.</summary>
    public Generator Generator { get; }

    /// <summary>Returns <c>embeds + δ</c>, or <paramref name="embeds"/> itself when alpha is 0.</summary>
    /// <param name="embeds">(B, T, d) token embeddings.</param>
    /// <param name="sequenceIds">(B, T) with 0 = padding and k &gt; 0 = k-th packed sequence; null = all real tokens.</param>
    public Tensor Apply(Tensor embeds, Tensor? sequenceIds)
    {
        if (Options.Alpha == 0) return embeds;
        using var scope = NewDisposeScope();
        var delta = Sample(embeds, sequenceIds);
        return (embeds + delta.to_type(embeds.dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>The noise δ (B, T, d) in float32, detached.</summary>
    public Tensor Sample(Tensor embeds, Tensor? sequenceIds)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long B = embeds.shape[0], T = embeds.shape[1], d = embeds.shape[2];
        var magnitude = Magnitude(sequenceIds, B, T, d, embeds.device);   // (B, T, 1) or scalar
        return Options.EffectiveKind.Sample(embeds, magnitude, Generator).MoveToOuterDisposeScope();
    }

    /// <summary>Per-position scale alpha / sqrt(L·d), 0 on padding (PerSequence); shape (B, T, 1) or scalar.</summary>
    public Tensor Magnitude(Tensor? sequenceIds, long B, long T, long d, Device device)
    {
        if (Options.Scaling == NeftuneScaling.PaddedLength || sequenceIds is null)
            return tensor(Options.Alpha / Math.Sqrt((double)T * d), ScalarType.Float32, device);
        using var scope = NewDisposeScope();
        long segments = sequenceIds.max().item<long>() + 1;
        var lengths = zeros(B, segments, ScalarType.Float32, device)
            .scatter_add_(1, sequenceIds, ones(B, T, ScalarType.Float32, device));        // (B, segments) tokens per sequence
        var L = lengths.gather(1, sequenceIds);                                          // (B, T) own sequence's length
        var mag = (Options.Alpha / Math.Sqrt(d)) * L.rsqrt() * sequenceIds.ne(0L).to_type(ScalarType.Float32);
        return mag.unsqueeze(-1).MoveToOuterDisposeScope();
    }

    public void Dispose() => Generator.Dispose();
}
