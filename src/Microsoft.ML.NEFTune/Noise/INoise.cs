using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Noise;

/// <summary>
/// One kind of embedding noise: how the perturbation δ of a batch is drawn, given the NEFTune scale. The scale
/// (<c>alpha / sqrt(L·d)</c>, zero on padding with per-sequence scaling) and the seeded, checkpointed generator are
/// supplied by <see cref="NeftuneNoise"/>, so a new kind only decides the distribution. Built in: <see cref="UniformNoise"/>
/// (the paper) and <see cref="GaussianNoise"/> (its ablation); set <see cref="NeftuneOptions.Kind"/> for another one.
/// </summary>
public interface INoise
{
    /// <summary>A short name for logs and error messages, e.g. <c>uniform</c>.</summary>
    string Name { get; }

    /// <summary>Draws δ for <paramref name="embeddings"/>; called without autograd.</summary>
    /// <param name="embeddings">(B, T, d) token embeddings, read only (a kind may scale by their norm).</param>
    /// <param name="scale">The NEFTune scale: (B, T, 1), or a scalar when every position shares it.</param>
    /// <param name="generator">The noise stream; draw every random number from it so that runs and resumes are reproducible.</param>
    /// <returns>δ of shape (B, T, d), float32, on the device of <paramref name="embeddings"/>.</returns>
    Tensor Sample(Tensor embeddings, Tensor scale, Generator generator);
}

/// <summary>The paper's noise: <c>δ = u · scale</c>, <c>u ~ Uniform(-1, 1)</c> per coordinate (variance <c>scale² / 3</c>).</summary>
public sealed class UniformNoise : INoise
{
    /// <summary>The one instance.</summary>
    public static UniformNoise Instance { get; } = new();

    /// <inheritdoc/>
    public string Name => "uniform";

    /// <inheritdoc/>
    public Tensor Sample(Tensor embeddings, Tensor scale, Generator generator)
    {
        using var scope = NewDisposeScope();
        var u = rand(embeddings.shape, ScalarType.Float32, embeddings.device, generator: generator) * 2 - 1;    // (B, T, d) in [-1, 1)
        return (u * scale).MoveToOuterDisposeScope();
    }
}

/// <summary>The paper's ablation: <c>δ = n · scale</c>, <c>n ~ Normal(0, 1)</c> per coordinate (standard deviation <c>scale</c>, unbounded).</summary>
public sealed class GaussianNoise : INoise
{
    /// <summary>The one instance.</summary>
    public static GaussianNoise Instance { get; } = new();

    /// <inheritdoc/>
    public string Name => "gaussian";

    /// <inheritdoc/>
    public Tensor Sample(Tensor embeddings, Tensor scale, Generator generator)
    {
        using var scope = NewDisposeScope();
        var n = randn(embeddings.shape, ScalarType.Float32, embeddings.device, generator: generator);          // (B, T, d)
        return (n * scale).MoveToOuterDisposeScope();
    }
}
