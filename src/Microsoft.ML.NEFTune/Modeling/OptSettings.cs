using System.Text.Json.Nodes;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>
/// The OPT-only fields of a <c>config.json</c> with <c>model_type: "opt"</c> (HF <c>OPTConfig</c>); the shared ones
/// (vocabulary, hidden size, <c>ffn_dim</c> as <see cref="LlamaConfig.IntermediateSize"/>, layers, heads, positions,
/// special ids) live in <see cref="LlamaConfig"/>.
/// </summary>
public sealed record OptSettings
{
    /// <summary>OPT's LayerNorms use PyTorch's default epsilon; the config has no field for it.</summary>
    public const double LayerNormEps = 1e-5;

    /// <summary>Pre-norm blocks (true for every OPT size except 350m). Default true.</summary>
    public bool DoLayerNormBefore { get; init; } = true;

    /// <summary>Size of the token embedding and of the tied head; <c>project_in</c>/<c>project_out</c> exist when it differs from the hidden size (OPT-350m: 512 vs 1024).</summary>
    public int WordEmbedProjDim { get; init; }

    /// <summary>Biases on the attention and feed-forward projections. Default true.</summary>
    public bool EnableBias { get; init; } = true;

    /// <summary>LayerNorms with a learned weight and bias. Default true.</summary>
    public bool LayerNormElementwiseAffine { get; init; } = true;

    /// <summary>HF <c>_remove_final_layer_norm</c>: drop the decoder's final LayerNorm of a pre-norm model. Default false.</summary>
    public bool RemoveFinalLayerNorm { get; init; }

    /// <summary>The decoder ends with <c>final_layer_norm</c> (pre-norm models that do not remove it).</summary>
    public bool HasFinalLayerNorm => DoLayerNormBefore && !RemoveFinalLayerNorm;

    /// <summary>Reads an OPT <c>config.json</c> into the shared config, refusing what would change the computation unannounced.</summary>
    internal static LlamaConfig FromJson(JsonObject json, string source)
    {
        int Int(string key, int? fallback = null)
        {
            var node = json[key];
            if (node is null) return fallback ?? throw new ModelFormatException(source, $"missing field '{key}' (required for model_type 'opt')");
            try { return node.GetValue<int>(); }
            catch (Exception) { throw new ModelFormatException(source, $"field '{key}' must be an integer, got {node.ToJsonString()}"); }
        }
        bool Flag(string key, bool fallback)
        {
            var node = json[key];
            if (node is null) return fallback;
            return node is JsonValue v && v.TryGetValue<bool>(out var b) ? b : throw new ModelFormatException(source, $"field '{key}' must be true or false, got {node.ToJsonString()}");
        }
        int? Id(string key, int fallback)
        {
            var node = json[key];
            if (node is null) return fallback;
            try { return node.GetValue<int>(); }
            catch (Exception) { throw new ModelFormatException(source, $"field '{key}' must be an integer, got {node.ToJsonString()}"); }
        }

        int hidden = Int("hidden_size"), heads = Int("num_attention_heads");
        if (heads <= 0) throw new ModelFormatException(source, $"num_attention_heads must be positive, got {heads}");
        var activation = LlamaConfig.ReadString(json, "activation_function", "relu", source);
        if (activation != "relu") throw new ModelFormatException(source, $"activation_function '{activation}' is not supported for OPT (only 'relu')");
        foreach (var key in new[] { "attention_dropout", "layerdrop" })   // 0 in every released OPT config; `dropout` (0.1) is not applied, see docs/models.md
            if (LlamaConfig.ReadNumber(json, key, 0.0, source) != 0.0)
                throw new ModelFormatException(source, $"{key} {LlamaConfig.ReadNumber(json, key, 0.0, source)} is not supported (training without dropout only)");
        var config = new LlamaConfig
        {
            ModelType = "opt",
            VocabSize = Int("vocab_size"),
            HiddenSize = hidden,
            IntermediateSize = Int("ffn_dim"),
            NumHiddenLayers = Int("num_hidden_layers"),
            NumAttentionHeads = heads,
            NumKeyValueHeads = heads,
            HeadDim = hidden % heads == 0 ? hidden / heads : -1,
            MaxPositionEmbeddings = Int("max_position_embeddings", 2048),
            HiddenAct = activation,
            InitializerRange = LlamaConfig.ReadNumber(json, "init_std", 0.02, source),
            TieWordEmbeddings = Flag("tie_word_embeddings", true),
            BosTokenId = Id("bos_token_id", 2),
            EosTokenIds = new[] { Id("eos_token_id", 2)!.Value },
            PadTokenId = Id("pad_token_id", 1),
            TorchDtype = LlamaConfig.ReadString(json, "torch_dtype", "float32", source),
            Opt = new OptSettings
            {
                DoLayerNormBefore = Flag("do_layer_norm_before", true),
                WordEmbedProjDim = Int("word_embed_proj_dim", hidden),
                EnableBias = Flag("enable_bias", true),
                LayerNormElementwiseAffine = Flag("layer_norm_elementwise_affine", true),
                RemoveFinalLayerNorm = Flag("_remove_final_layer_norm", false),
            },
        };
        if (json["head_dim"] is not null && Int("head_dim") != config.HeadDim)
            throw new ModelFormatException(source, "OPT has no separate head_dim; the head size is hidden_size / num_attention_heads");
        config.Validate(source);
        return config;
    }

    /// <summary>Writes the shared config and these fields as an HF <c>OPTConfig</c>.</summary>
    internal static JsonObject ToJson(LlamaConfig c)
    {
        var opt = c.Opt!;
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray("OPTForCausalLM"),
            ["model_type"] = "opt",
            ["vocab_size"] = c.VocabSize,
            ["hidden_size"] = c.HiddenSize,
            ["word_embed_proj_dim"] = opt.WordEmbedProjDim,
            ["ffn_dim"] = c.IntermediateSize,
            ["num_hidden_layers"] = c.NumHiddenLayers,
            ["num_attention_heads"] = c.NumAttentionHeads,
            ["max_position_embeddings"] = c.MaxPositionEmbeddings,
            ["do_layer_norm_before"] = opt.DoLayerNormBefore,
            ["_remove_final_layer_norm"] = opt.RemoveFinalLayerNorm,
            ["enable_bias"] = opt.EnableBias,
            ["layer_norm_elementwise_affine"] = opt.LayerNormElementwiseAffine,
            ["activation_function"] = c.HiddenAct,
            ["init_std"] = c.InitializerRange,
            ["tie_word_embeddings"] = c.TieWordEmbeddings,
            ["dropout"] = 0.0,
            ["attention_dropout"] = 0.0,
            ["layerdrop"] = 0.0,
            ["torch_dtype"] = c.TorchDtype,
        };
        if (c.BosTokenId is int bos) json["bos_token_id"] = bos;
        json["eos_token_id"] = c.EosTokenIds[0];
        if (c.PadTokenId is int pad) json["pad_token_id"] = pad;
        return json;
    }
}
