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

    /// <summary>The names and shapes of a <see cref="LlamaForCausalLM"/>'s parameters for <paramref name="c"/>, computed without building it.</summary>
    public static Dictionary<string, long[]> ExpectedShapes(LlamaConfig c)
    {
        if (c.Opt is not null) return OptStateDict.ExpectedShapes(c);
        long C = c.HiddenSize, I = c.IntermediateSize, q = (long)c.NumAttentionHeads * c.HeadDim, kv = (long)c.NumKeyValueHeads * c.HeadDim;
        var shapes = new Dictionary<string, long[]> { ["model.embed_tokens.weight"] = new[] { (long)c.VocabSize, C }, ["model.norm.weight"] = new[] { C } };
        if (!c.TieWordEmbeddings) shapes["lm_head.weight"] = new[] { (long)c.VocabSize, C };
        bool qkvBias = c.AttentionBias || c.QkvBias;
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            var p = $"model.layers.{i}.";
            shapes[p + "input_layernorm.weight"] = new[] { C };
            shapes[p + "post_attention_layernorm.weight"] = new[] { C };
            shapes[p + "self_attn.q_proj.weight"] = new[] { q, C };
            shapes[p + "self_attn.k_proj.weight"] = new[] { kv, C };
            shapes[p + "self_attn.v_proj.weight"] = new[] { kv, C };
            shapes[p + "self_attn.o_proj.weight"] = new[] { C, q };
            shapes[p + "mlp.gate_proj.weight"] = new[] { I, C };
            shapes[p + "mlp.up_proj.weight"] = new[] { I, C };
            shapes[p + "mlp.down_proj.weight"] = new[] { C, I };
            if (qkvBias)
            {
                shapes[p + "self_attn.q_proj.bias"] = new[] { q };
                shapes[p + "self_attn.k_proj.bias"] = new[] { kv };
                shapes[p + "self_attn.v_proj.bias"] = new[] { kv };
            }
            if (c.AttentionBias) shapes[p + "self_attn.o_proj.bias"] = new[] { C };
        }
        return shapes;
    }

    /// <summary>
    /// Checks a checkpoint's tensor names and shapes against <paramref name="config"/> before any model is allocated,
    /// so that a config claiming a huge model is refused by what the file really holds.
    /// </summary>
    public static void CheckShapes(LlamaConfig config, string source, IReadOnlyDictionary<string, long[]> shapes)
    {
        int perLayer = config.Opt is not null ? OptStateDict.MinTensorsPerLayer : config.FusedProjections ? 6 : 9;
        if ((long)config.NumHiddenLayers * perLayer > shapes.Count)
            throw new ModelFormatException(source, $"config.json gives {config.NumHiddenLayers} layers ({perLayer} tensors each) but the checkpoint holds only {shapes.Count} tensors");
        var expected = config.FusedProjections ? FusedProjections.FuseShapes(config, ExpectedShapes(config)) : ExpectedShapes(config);
        var unexpected = shapes.Keys.Where(k => !expected.ContainsKey(k) && !Ignorable(k, config)).ToList();
        if (unexpected.Count > 0)
            throw new ModelFormatException(source, $"unexpected tensor '{unexpected[0]}' ({unexpected.Count} unexpected in all); the checkpoint does not match config.json");
        var missing = expected.Keys.Where(k => !shapes.ContainsKey(k)).ToList();
        if (missing.Count > 0)
            throw new ModelFormatException(source, $"missing tensor '{missing[0]}' ({missing.Count} missing in all)");
        foreach (var (name, shape) in expected)
            if (!shapes[name].SequenceEqual(shape))
                throw new ModelFormatException(source, $"tensor '{name}' has shape [{string.Join(", ", shapes[name])}] but config.json implies [{string.Join(", ", shape)}]");
    }

    /// <summary>Copies a checkpoint's tensors (in the layout of <paramref name="config"/>'s family) into the model's parameters.</summary>
    /// <param name="model">The model whose parameters are filled.</param>
    /// <param name="config">Its config (for the keys a checkpoint may carry without the model needing them).</param>
    /// <param name="source">Named in errors.</param>
    /// <param name="keys">The checkpoint's tensor names.</param>
    /// <param name="read">Reads a named tensor (the caller's copy, disposed here after it is copied).</param>
    /// <param name="readInto">Optionally reads a named tensor straight into a parameter's storage, returning false
    /// when it cannot (other dtype, device); then <paramref name="read"/> is used.</param>
    public static void Load(nn.Module model, LlamaConfig config, string source, IReadOnlyCollection<string> keys, Func<string, Tensor> read,
        Func<string, Tensor, bool>? readInto = null)
    {
        if (config.FusedProjections)
        {
            var inFile = keys.ToHashSet();
            var direct = readInto;
            readInto = direct is null ? null : (name, parameter) => inFile.Contains(name) && direct(name, parameter);   // split parts come from read
            (keys, read) = FusedProjections.Split(config, source, keys, read);
        }
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
            if (readInto is not null && readInto(name, parameter)) continue;
            using var value = read(name);
            if (!value.shape.SequenceEqual(parameter.shape))
                throw new ModelFormatException(source, $"tensor '{name}' has shape [{string.Join(", ", value.shape)}] but config.json implies [{string.Join(", ", parameter.shape)}]");
            if (!value.is_floating_point())
                throw new ModelFormatException(source, $"tensor '{name}' has dtype {value.dtype}; a floating-point dtype is required");
            parameter.copy_(value);
        }
    }
}
