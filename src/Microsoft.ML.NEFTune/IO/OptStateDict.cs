using Microsoft.ML.NEFTune.Modeling;

namespace Microsoft.ML.NEFTune.IO;

/// <summary>
/// The state-dict keys of an OPT checkpoint. Real checkpoints use two layouts: <c>model.decoder.*</c> with a
/// <c>lm_head.weight</c> copy of the tied embedding (OPT-125m, 1.3b) and <c>decoder.*</c> without a head
/// (OPT-350m, 2.7b, 6.7b, 13b). Both load; the model's own names are the first layout's.
/// </summary>
internal static class OptStateDict
{
    /// <summary>The model's name for a checkpoint key: <c>decoder.x</c> becomes <c>model.decoder.x</c>.</summary>
    public static string CanonicalName(string key) => key.StartsWith("decoder.", StringComparison.Ordinal) ? "model." + key : key;

    /// <summary>Tensors per block with weights only (the lower bound used to refuse impossible layer counts).</summary>
    public const int MinTensorsPerLayer = 6;

    /// <summary>The names and shapes of an OPT <see cref="LlamaForCausalLM"/>'s parameters, computed without building it.</summary>
    public static Dictionary<string, long[]> ExpectedShapes(LlamaConfig c)
    {
        var opt = c.Opt!;
        long C = c.HiddenSize, E = c.EmbeddingSize, F = c.IntermediateSize;
        const string d = "model.decoder.";
        var shapes = new Dictionary<string, long[]>
        {
            [d + "embed_tokens.weight"] = new[] { (long)c.VocabSize, E },
            [d + "embed_positions.weight"] = new[] { c.MaxPositionEmbeddings + 2L, C },
        };
        if (E != C)
        {
            shapes[d + "project_in.weight"] = new[] { C, E };
            shapes[d + "project_out.weight"] = new[] { E, C };
        }
        if (!c.TieWordEmbeddings) shapes["lm_head.weight"] = new[] { (long)c.VocabSize, E };
        void Norm(string name)
        {
            if (!opt.LayerNormElementwiseAffine) return;
            shapes[name + ".weight"] = new[] { C };
            shapes[name + ".bias"] = new[] { C };
        }
        void Linear(string name, long output, long input)
        {
            shapes[name + ".weight"] = new[] { output, input };
            if (opt.EnableBias) shapes[name + ".bias"] = new[] { output };
        }
        if (opt.HasFinalLayerNorm) Norm(d + "final_layer_norm");
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            var p = $"{d}layers.{i}.";
            foreach (var proj in new[] { "k_proj", "v_proj", "q_proj", "out_proj" }) Linear(p + "self_attn." + proj, C, C);
            Norm(p + "self_attn_layer_norm");
            Linear(p + "fc1", F, C);
            Linear(p + "fc2", C, F);
            Norm(p + "final_layer_norm");
        }
        return shapes;
    }
}
