using Microsoft.ML.NEFTune.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.IO;

/// <summary>Copies named tensors into a model's parameters, checking that names and shapes match exactly.</summary>
internal static class StateDictLoader
{
    /// <summary>Keys a checkpoint may carry that the model does not need.</summary>
    private static bool Ignorable(string key, LlamaConfig config) =>
        key.EndsWith("rotary_emb.inv_freq") || (config.TieWordEmbeddings && key == "lm_head.weight");

    public static void Load(nn.Module model, LlamaConfig config, string source, IReadOnlyCollection<string> keys, Func<string, Tensor> read)
    {
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var unexpected = keys.Where(k => !parameters.ContainsKey(k) && !Ignorable(k, config)).ToList();
        if (unexpected.Count > 0)
            throw new ModelFormatException(source, $"unexpected tensor '{unexpected[0]}' ({unexpected.Count} unexpected in all); the checkpoint does not match config.json");
        var missing = parameters.Keys.Where(k => !keys.Contains(k)).ToList();
        if (missing.Count > 0)
            throw new ModelFormatException(source, $"missing tensor '{missing[0]}' ({missing.Count} missing in all)");
        using var _ = no_grad();
        foreach (var (name, parameter) in parameters)
        {
            using var value = read(name);
            if (!value.shape.SequenceEqual(parameter.shape))
                throw new ModelFormatException(source, $"tensor '{name}' has shape [{string.Join(", ", value.shape)}] but config.json implies [{string.Join(", ", parameter.shape)}]");
            if (!value.is_floating_point())
                throw new ModelFormatException(source, $"tensor '{name}' has dtype {value.dtype}; a floating-point dtype is required");
            parameter.copy_(value);
        }
    }
}
