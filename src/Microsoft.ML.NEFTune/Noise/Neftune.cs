using System.Reflection;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Noise;

/// <summary>Adds NEFTune to the embedding of a TorchSharp causal language model.</summary>
public static class Neftune
{
    /// <summary>
    /// Replaces the <see cref="Embedding"/> at <paramref name="embeddingPath"/> (e.g. <c>model.embed_tokens</c>) with a
    /// <see cref="NeftuneEmbedding"/> sharing its weight, keeping every parameter name. The parent module must hold
    /// the embedding in a field typed <c>Module&lt;Tensor, Tensor&gt;</c> (or a base of it), so the replacement
    /// actually runs in its forward. Returns the new module (set its <c>SequenceIds</c> per batch for per-sequence scaling).
    /// </summary>
    public static NeftuneEmbedding Attach(nn.Module model, string embeddingPath, NeftuneNoise noise)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(embeddingPath);
        int dot = embeddingPath.LastIndexOf('.');
        string parentPath = dot < 0 ? "" : embeddingPath[..dot], name = embeddingPath[(dot + 1)..];
        var parent = parentPath.Length == 0 ? model
            : model.named_modules().FirstOrDefault(m => m.name == parentPath).module
              ?? throw new ArgumentException($"No module named '{parentPath}'.", nameof(embeddingPath));
        var embedding = parent.named_children().FirstOrDefault(c => c.name == name).module as Embedding
            ?? throw new ArgumentException($"'{embeddingPath}' is not a TorchSharp Embedding.", nameof(embeddingPath));
        var field = FieldsOf(parent.GetType()).FirstOrDefault(f => ReferenceEquals(f.GetValue(parent), embedding))
            ?? throw new ArgumentException($"No field of {parent.GetType().Name} holds '{embeddingPath}'.", nameof(embeddingPath));
        if (!field.FieldType.IsAssignableFrom(typeof(NeftuneEmbedding)))
            throw new ArgumentException($"{parent.GetType().Name}.{field.Name} is typed {field.FieldType.Name}; declare it as Module<Tensor, Tensor> so NEFTune can replace it.", nameof(embeddingPath));
        var wrapper = new NeftuneEmbedding(embedding, noise);
        wrapper.train(embedding.training);
        field.SetValue(parent, wrapper);
        Microsoft.ML.NEFTune.Modeling.SubmoduleSlot.Replace(parent, name, wrapper);
        return wrapper;
    }

    private static IEnumerable<FieldInfo> FieldsOf(Type? type)
    {
        for (; type is not null && type != typeof(object); type = type.BaseType)
            foreach (var f in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                yield return f;
    }
}
