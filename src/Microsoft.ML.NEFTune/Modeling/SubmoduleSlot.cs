using System.Reflection;
using TorchSharp;
using TorchSharp.Utils;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>
/// Replaces a registered submodule in place, keeping its name and position. TorchSharp's <c>register_module</c>
/// refuses a name that is already registered and offers no replacement, so this sets the entry of the module's
/// registry (<c>_internal_submodules</c>) directly.
/// </summary>
internal static class SubmoduleSlot
{
    private static readonly FieldInfo? Registry = typeof(torch.nn.Module).GetField("_internal_submodules", BindingFlags.Instance | BindingFlags.NonPublic);

    public static void Replace(torch.nn.Module parent, string name, torch.nn.Module replacement)
    {
        var registry = Registry?.GetValue(parent) as OrderedDict<string, torch.nn.Module>
            ?? throw new NotSupportedException("This TorchSharp version does not expose a submodule registry that can be updated.");
        if (!registry.ContainsKey(name)) throw new ArgumentException($"No submodule named '{name}' is registered.", nameof(name));
        registry[name] = replacement;
    }
}
