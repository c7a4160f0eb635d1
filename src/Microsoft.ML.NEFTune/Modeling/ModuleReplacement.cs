using System.Reflection;
using TorchSharp;
using TorchSharp.Utils;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>
/// Swaps a child module of a TorchSharp module in place, keeping its name (so every state-dict key stays) and its
/// position: the field of the parent that holds the child (which its <c>forward</c> calls) and the parent's registry
/// of submodules (which <c>named_parameters</c>, <c>to</c> and <c>train</c> walk). TorchSharp's <c>register_module</c>
/// refuses a name that is already registered and offers no replacement, so the registry
/// (<c>_internal_submodules</c>) is updated directly. Used by LoRA (projections) and by NEFTune on models other
/// than <see cref="LlamaForCausalLM"/> (whose embedding has <see cref="DecoderModel.EmbeddingTransform"/> instead).
/// </summary>
public static class ModuleReplacement
{
    private static readonly FieldInfo? Registry = typeof(torch.nn.Module).GetField("_internal_submodules", BindingFlags.Instance | BindingFlags.NonPublic);

    /// <summary>The parent module and child name of <paramref name="path"/> (e.g. <c>model.layers.0.self_attn.q_proj</c>) inside <paramref name="root"/>.</summary>
    /// <exception cref="ArgumentException">No module has that path.</exception>
    public static (torch.nn.Module Parent, string Name, torch.nn.Module Child) Find(torch.nn.Module root, string path)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentException.ThrowIfNullOrEmpty(path);
        int dot = path.LastIndexOf('.');
        string parentPath = dot < 0 ? "" : path[..dot], name = path[(dot + 1)..];
        var parent = parentPath.Length == 0 ? root
            : root.named_modules().FirstOrDefault(m => m.name == parentPath).module
              ?? throw new ArgumentException($"No module named '{parentPath}'.", nameof(path));
        var child = parent.named_children().FirstOrDefault(c => c.name == name).module
            ?? throw new ArgumentException($"No module named '{path}'.", nameof(path));
        return (parent, name, child);
    }

    /// <summary>
    /// Replaces the child <paramref name="name"/> of <paramref name="parent"/>, currently <paramref name="current"/>, by
    /// <paramref name="replacement"/>, in the field that holds it and in the registry. The replacement takes the
    /// training mode of <paramref name="current"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">No field holds <paramref name="current"/>, or its declared type cannot hold the replacement (the message names the field).</exception>
    public static void Replace(torch.nn.Module parent, string name, torch.nn.Module current, torch.nn.Module replacement)
    {
        ArgumentNullException.ThrowIfNull(parent);
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(replacement);
        var field = FieldsOf(parent.GetType()).FirstOrDefault(f => ReferenceEquals(f.GetValue(parent), current))
            ?? throw new InvalidOperationException($"No field of {parent.GetType().Name} holds '{name}', so its forward would not see a replacement.");
        if (!field.FieldType.IsAssignableFrom(replacement.GetType()))
            throw new InvalidOperationException($"{parent.GetType().Name}.{field.Name} is typed {field.FieldType.Name} and cannot hold a {replacement.GetType().Name}; declare it as Module<Tensor, Tensor>.");
        replacement.train(current.training);
        field.SetValue(parent, replacement);
        ReplaceRegistered(parent, name, replacement);
    }

    /// <summary>Points the registry entry <paramref name="name"/> of <paramref name="parent"/> at <paramref name="replacement"/> (the caller has set its own field).</summary>
    /// <exception cref="ArgumentException">No submodule of that name is registered.</exception>
    public static void ReplaceRegistered(torch.nn.Module parent, string name, torch.nn.Module replacement)
    {
        var registry = Registry?.GetValue(parent) as OrderedDict<string, torch.nn.Module>
            ?? throw new NotSupportedException("This TorchSharp version does not expose a submodule registry that can be updated.");
        if (!registry.ContainsKey(name)) throw new ArgumentException($"No submodule named '{name}' is registered.", nameof(name));
        registry[name] = replacement;
    }

    private static IEnumerable<FieldInfo> FieldsOf(Type? type)
    {
        for (; type is not null && type != typeof(object); type = type.BaseType)
            foreach (var f in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                yield return f;
    }
}
