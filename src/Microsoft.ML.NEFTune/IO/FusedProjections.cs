using Microsoft.ML.NEFTune.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.IO;

/// <summary>
/// The Phi-3 checkpoint layout: each layer stores <c>self_attn.qkv_proj.weight</c> (rows q, then k, then v) and
/// <c>mlp.gate_up_proj.weight</c> (rows gate, then up), as <c>Phi3Attention</c> and <c>Phi3MLP</c> slice them. The model
/// keeps the Llama projections apart, so these are split on load and concatenated again on save, and the saved file
/// has exactly the names and shapes <c>transformers</c> expects.
/// </summary>
internal static class FusedProjections
{
    private const string Qkv = "self_attn.qkv_proj.weight", GateUp = "mlp.gate_up_proj.weight";

    /// <summary>Each fused checkpoint tensor: its name and the (model name, rows) parts it is made of, in row order.</summary>
    private static IEnumerable<(string Fused, (string Name, long Rows)[] Parts)> Groups(LlamaConfig c)
    {
        long q = (long)c.NumAttentionHeads * c.HeadDim, kv = c.KeyValueDim, I = c.IntermediateSize;
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            var p = $"model.layers.{i}.";
            yield return (p + Qkv, new[] { (p + "self_attn.q_proj.weight", q), (p + "self_attn.k_proj.weight", kv), (p + "self_attn.v_proj.weight", kv) });
            yield return (p + GateUp, new[] { (p + "mlp.gate_proj.weight", I), (p + "mlp.up_proj.weight", I) });
        }
    }

    /// <summary>The checkpoint's tensor shapes from the model's.</summary>
    public static Dictionary<string, long[]> FuseShapes(LlamaConfig c, Dictionary<string, long[]> modelShapes)
    {
        var shapes = new Dictionary<string, long[]>(modelShapes);
        foreach (var (fused, parts) in Groups(c))
        {
            foreach (var (name, _) in parts) shapes.Remove(name);
            shapes[fused] = new[] { parts.Sum(p => p.Rows), (long)c.HiddenSize };
        }
        return shapes;
    }

    /// <summary>
    /// The model's tensor names and a reader for them, over a checkpoint's names and reader: a split part is read as
    /// its rows of the fused tensor (checked to have the fused shape first). Names that are not fused pass through.
    /// </summary>
    public static (IReadOnlyCollection<string> Keys, Func<string, Tensor> Read) Split(LlamaConfig c, string source, IReadOnlyCollection<string> keys, Func<string, Tensor> read)
    {
        var parts = new Dictionary<string, (string Fused, long Offset, long Rows, long Total)>();
        var fusedNames = new HashSet<string>();
        foreach (var (fused, group) in Groups(c))
        {
            if (!keys.Contains(fused)) continue;
            fusedNames.Add(fused);
            long offset = 0, total = group.Sum(g => g.Rows);
            foreach (var (name, rows) in group) { parts[name] = (fused, offset, rows, total); offset += rows; }
        }
        var modelKeys = keys.Where(k => !fusedNames.Contains(k)).Concat(parts.Keys).ToList();
        Tensor Read(string name)
        {
            if (!parts.TryGetValue(name, out var part)) return read(name);
            using var whole = read(part.Fused);
            if (whole.dim() != 2 || whole.shape[0] != part.Total || whole.shape[1] != c.HiddenSize)
                throw new ModelFormatException(source, $"tensor '{part.Fused}' has shape [{string.Join(", ", whole.shape)}] but config.json implies [{part.Total}, {c.HiddenSize}]");
            return whole.narrow(0, part.Offset, part.Rows).clone();
        }
        return (modelKeys, Read);
    }

    /// <summary>The model's named tensors in the checkpoint layout: the split parts concatenated where the fused tensor belongs.</summary>
    public static List<KeyValuePair<string, Tensor>> Fuse(LlamaConfig c, IReadOnlyList<KeyValuePair<string, Tensor>> tensors)
    {
        var byName = tensors.ToDictionary(t => t.Key, t => t.Value);
        var fusedAt = new Dictionary<string, (string Fused, string[] Names)>();
        foreach (var (fused, group) in Groups(c)) fusedAt[group[0].Name] = (fused, group.Select(g => g.Name).ToArray());
        var partNames = fusedAt.Values.SelectMany(f => f.Names).ToHashSet();
        var result = new List<KeyValuePair<string, Tensor>>();
        foreach (var (name, tensor) in tensors)
        {
            if (fusedAt.TryGetValue(name, out var f)) result.Add(KeyValuePair.Create(f.Fused, cat(f.Names.Select(n => byName[n]).ToArray(), 0)));
            else if (!partNames.Contains(name)) result.Add(KeyValuePair.Create(name, tensor));
        }
        return result;
    }
}
