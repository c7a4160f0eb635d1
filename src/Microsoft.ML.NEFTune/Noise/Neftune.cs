using Microsoft.ML.NEFTune.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Noise;

/// <summary>
/// Attaches NEFTune noise to a model by hand (the trainer attaches its own from <c>TrainingOptions.Noise</c> and
/// refuses a model that already carries noise). One noise at a time: attaching to a model that has noise throws,
/// naming both.
/// </summary>
public static class Neftune
{
    /// <summary>
    /// Attaches noise drawn from <paramref name="seed"/> as the model's <see cref="DecoderModel.EmbeddingTransform"/>;
    /// it acts in training mode only. Dispose the returned noise after <see cref="Detach"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The model already has noise or another embedding transform.</exception>
    public static NeftuneNoise Attach(LlamaForCausalLM model, NeftuneOptions options, long seed)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        var noise = new NeftuneNoise(options, seed, model.Model.EmbeddingWeight.device);
        try
        {
            RefuseSecond(model, noise.Description);
            model.Model.EmbeddingTransform = noise;
            return noise;
        }
        catch
        {
            noise.Dispose();
            throw;
        }
    }

    /// <summary>Removes noise attached with <see cref="Attach(LlamaForCausalLM, NeftuneOptions, long)"/>.</summary>
    public static void Detach(LlamaForCausalLM model)
    {
        ArgumentNullException.ThrowIfNull(model);
        model.Model.EmbeddingTransform = null;
    }

    /// <summary>
    /// For any other TorchSharp model: replaces the <see cref="Embedding"/> at <paramref name="embeddingPath"/> (e.g.
    /// <c>model.embed_tokens</c>) with a <see cref="NeftuneEmbedding"/> sharing its weight, keeping every parameter
    /// name (through <see cref="ModuleReplacement"/>). The parent must hold the embedding in a field typed
    /// <c>Module&lt;Tensor, Tensor&gt;</c> (or a base of it). Returns the new module (set its <c>SequenceIds</c> per
    /// batch for per-sequence scaling).
    /// </summary>
    /// <exception cref="InvalidOperationException">Noise is already attached there (or on the model's embedding transform).</exception>
    public static NeftuneEmbedding Attach(nn.Module model, string embeddingPath, NeftuneNoise noise)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(noise);
        var (parent, name, child) = ModuleReplacement.Find(model, embeddingPath);
        if (model is LlamaForCausalLM llama) RefuseSecond(llama, noise.Description);
        if (child is NeftuneEmbedding attached)
            throw new InvalidOperationException($"'{embeddingPath}' already has {attached.Noise.Description}; {noise.Description} cannot be added as well.");
        var embedding = child as Embedding ?? throw new ArgumentException($"'{embeddingPath}' is not a TorchSharp Embedding.", nameof(embeddingPath));
        var wrapper = new NeftuneEmbedding(embedding, noise);
        ModuleReplacement.Replace(parent, name, embedding, wrapper);
        return wrapper;
    }

    /// <summary>The noise already on the model, described, or null: as its embedding transform or as a <see cref="NeftuneEmbedding"/>.</summary>
    public static string? AttachedNoise(LlamaForCausalLM model) =>
        model.Model.EmbeddingTransform?.Description ?? (model.Model.EmbedTokens as NeftuneEmbedding)?.Noise.Description;

    private static void RefuseSecond(LlamaForCausalLM model, string adding)
    {
        if (AttachedNoise(model) is { } present)
            throw new InvalidOperationException($"The model already has {present} on its input embeddings; {adding} cannot be added as well (one noise at a time).");
    }
}
