using System.Text.Json;
using System.Text.Json.Nodes;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>
/// The hyper-parameters of a Llama-family causal language model, read from and written to a Hugging Face
/// <c>config.json</c>: <c>model_type</c> <c>llama</c> (Llama 1/2/3, TinyLlama, SmolLM), <c>mistral</c> (sliding-window
/// attention), <c>qwen2</c> (q/k/v biases) and <c>phi3</c> (fused projections in the file). A field that would change
/// the computation and is not implemented is refused by name, never ignored.
/// </summary>
public sealed class LlamaConfig
{
    /// <summary>The <c>model_type</c> values that load.</summary>
    public static readonly IReadOnlyList<string> SupportedModelTypes = new[] { "llama", "mistral", "qwen2", "phi3", "opt" };

    public string ModelType { get; set; } = "llama";
    public int VocabSize { get; set; } = 32000;
    public int HiddenSize { get; set; } = 4096;
    public int IntermediateSize { get; set; } = 11008;
    public int NumHiddenLayers { get; set; } = 32;
    public int NumAttentionHeads { get; set; } = 32;
    /// <summary>Key/value heads (grouped-query attention). Defaults to <see cref="NumAttentionHeads"/>.</summary>
    public int NumKeyValueHeads { get; set; } = 32;
    /// <summary>Per-head dimension; <c>HiddenSize / NumAttentionHeads</c> unless the config gives <c>head_dim</c>.</summary>
    public int HeadDim { get; set; } = 128;
    public int MaxPositionEmbeddings { get; set; } = 2048;
    public double RmsNormEps { get; set; } = 1e-6;
    public double RopeTheta { get; set; } = 10000.0;
    public RopeScaling? RopeScaling { get; set; }
    public bool TieWordEmbeddings { get; set; }
    /// <summary>Bias on q/k/v/o projections (Llama <c>attention_bias</c>).</summary>
    public bool AttentionBias { get; set; }
    /// <summary>Bias on q/k/v only (Qwen2).</summary>
    public bool QkvBias { get; set; }
    public string HiddenAct { get; set; } = "silu";
    public double InitializerRange { get; set; } = 0.02;
    public int? BosTokenId { get; set; } = 1;
    public IReadOnlyList<int> EosTokenIds { get; set; } = new[] { 2 };
    public int? PadTokenId { get; set; }
    public string TorchDtype { get; set; } = "float32";

    /// <summary>
    /// Sliding-window attention (<c>mistral</c>, <c>phi3</c>): a query at position i sees keys i − W &lt; j ≤ i; null for
    /// full causal attention.
    /// </summary>
    public int? SlidingWindow { get; set; }

    /// <summary><c>phi3</c>: the context the model was pretrained with, below <see cref="MaxPositionEmbeddings"/> when extended (LongRoPE).</summary>
    public int? OriginalMaxPositionEmbeddings { get; set; }

    /// <summary>
    /// <c>phi3</c> checkpoints hold <c>qkv_proj</c> and <c>gate_up_proj</c>; the model keeps q/k/v and gate/up apart and
    /// the loader splits them on load and fuses them again on save.
    /// </summary>
    public bool FusedProjections => ModelType == "phi3";

    public int KeyValueDim => NumKeyValueHeads * HeadDim;

    /// <summary>
    /// The checkpoint's <c>generation_config.json</c> as read (end-of-sequence ids, sampling defaults), written back
    /// unchanged when the model is saved, as <c>save_pretrained</c> writes the generation config it loaded; null when the
    /// checkpoint has none (a save then derives one from the token ids above).
    /// </summary>
    public JsonObject? GenerationConfig { get; set; }

    /// <summary>The OPT-only fields when <see cref="ModelType"/> is <c>opt</c>, else null.</summary>
    public OptSettings? Opt { get; set; }

    /// <summary>Width of the token embedding and of the output head: <see cref="HiddenSize"/>, or OPT's <c>word_embed_proj_dim</c>.</summary>
    public int EmbeddingSize => Opt?.WordEmbedProjDim ?? HiddenSize;

    /// <summary>Reads and validates a <c>config.json</c>.</summary>
    public static LlamaConfig Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Model config not found: {path}", path);
        JsonObject json;
        try { json = StrictJson.Parse(File.ReadAllText(path)) as JsonObject ?? throw new ModelFormatException(path, "the file is not a JSON object"); }
        catch (JsonException e) { throw new ModelFormatException(path, $"invalid JSON: {e.Message}"); }
        return FromJson(json, path);
    }

    public static LlamaConfig FromJson(JsonObject json, string source = "config.json")
    {
        int Int(string key, int? fallback = null)
        {
            var node = json[key];
            if (node is null)
                return fallback ?? throw new ModelFormatException(source, $"missing field '{key}'");
            try { return node.GetValue<int>(); }
            catch (Exception) { throw new ModelFormatException(source, $"field '{key}' must be an integer, got {node.ToJsonString()}"); }
        }
        double Real(string key, double fallback)
        {
            var node = json[key];
            if (node is null) return fallback;
            try { return node.GetValue<double>(); }
            catch (Exception) { throw new ModelFormatException(source, $"field '{key}' must be a number, got {node.ToJsonString()}"); }
        }
        bool Flag(string key, bool fallback) => json[key] is JsonValue v && v.TryGetValue<bool>(out var b) ? b : fallback;
        string Text(string key, string fallback) => ReadString(json, key, fallback, source);

        var modelType = Text("model_type", "llama");
        if (!SupportedModelTypes.Contains(modelType))
            throw new ModelFormatException(source, $"model_type '{modelType}' is not supported (supported: {string.Join(", ", SupportedModelTypes)})");
        if (modelType == "opt") return OptSettings.FromJson(json, source);
        RefuseUnsupportedFeatures(json, modelType, source);
        var ropeParameters = json["rope_parameters"] as JsonObject;   // transformers 5 keeps rope_theta and the scaling here
        var c = new LlamaConfig
        {
            ModelType = modelType,
            VocabSize = Int("vocab_size"),
            HiddenSize = Int("hidden_size"),
            IntermediateSize = Int("intermediate_size"),
            NumHiddenLayers = Int("num_hidden_layers"),
            NumAttentionHeads = Int("num_attention_heads"),
            MaxPositionEmbeddings = Int("max_position_embeddings", 2048),
            RmsNormEps = Real("rms_norm_eps", 1e-6),
            RopeTheta = ropeParameters?["rope_theta"] is not null ? ReadNumber(ropeParameters, "rope_theta", 10000.0, source, "rope_parameters.") : Real("rope_theta", 10000.0),
            TieWordEmbeddings = Flag("tie_word_embeddings", false),
            AttentionBias = Flag("attention_bias", false),
            QkvBias = modelType == "qwen2",
            HiddenAct = Text("hidden_act", "silu"),
            InitializerRange = Real("initializer_range", 0.02),
            TorchDtype = Text("torch_dtype", Text("dtype", "float32")),
        };
        c.NumKeyValueHeads = Int("num_key_value_heads", c.NumAttentionHeads);
        if (c.NumAttentionHeads <= 0) throw new ModelFormatException(source, $"num_attention_heads must be positive, got {c.NumAttentionHeads}");
        c.HeadDim = json["head_dim"] is null ? (c.HiddenSize % c.NumAttentionHeads == 0 ? c.HiddenSize / c.NumAttentionHeads : -1) : Int("head_dim");
        c.BosTokenId = ReadIds(json["bos_token_id"], source, "bos_token_id") is { Count: > 0 } bos ? bos[0] : null;
        c.EosTokenIds = ReadIds(json["eos_token_id"], source, "eos_token_id");
        c.PadTokenId = ReadIds(json["pad_token_id"], source, "pad_token_id") is { Count: > 0 } pad ? pad[0] : null;
        var scaling = json["rope_scaling"] as JsonObject ?? ropeParameters;
        if (scaling is not null && !(scaling == ropeParameters && ReadString(scaling, "rope_type", "default", source, "rope_parameters.") == "default"))
            c.RopeScaling = RopeScaling.FromJson(scaling, source);
        if (c.RopeScaling?.Type == "default") c.RopeScaling = null;
        if (modelType is "mistral" or "phi3" && json["sliding_window"] is not null) c.SlidingWindow = Int("sliding_window");
        if (json["original_max_position_embeddings"] is not null) c.OriginalMaxPositionEmbeddings = Int("original_max_position_embeddings");
        c.Validate(source);
        return c;
    }

    /// <summary>
    /// Fields that change the computation in <c>transformers</c> and are not implemented here: refused by name, with
    /// what is supported, rather than silently computing something else.
    /// </summary>
    private static void RefuseUnsupportedFeatures(JsonObject json, string modelType, string source)
    {
        bool On(string key) => json[key] is JsonValue v && v.TryGetValue<bool>(out var b) && b;
        double Number(string key, double fallback) => ReadNumber(json, key, fallback, source);
        if (json["quantization_config"] is JsonObject q)
            throw new ModelFormatException(source, $"quantized checkpoints (quantization_config, method '{q["quant_method"]?.ToString() ?? "?"}') are not supported; use the unquantized model (the library quantizes a frozen base itself, see QLoRA)");
        if (On("mlp_bias")) throw new ModelFormatException(source, "mlp_bias: true is not supported (gate/up/down projections without bias only)");
        if (Number("partial_rotary_factor", 1.0) != 1.0)
            throw new ModelFormatException(source, $"partial_rotary_factor {Number("partial_rotary_factor", 1.0)} is not supported (rotary embedding over the whole head only)");
        foreach (var key in new[] { "attention_dropout", "resid_pdrop", "embd_pdrop", "hidden_dropout" })
            if (Number(key, 0.0) != 0.0) throw new ModelFormatException(source, $"{key} {Number(key, 0.0)} is not supported (training without dropout only)");
        if (modelType == "qwen2" && On("use_sliding_window"))
            throw new ModelFormatException(source, "use_sliding_window: true is not supported for qwen2 (sliding windows are supported for mistral and phi3)");
        if (json["layer_types"] is JsonArray layers && modelType is "llama" or "qwen2" && layers.Any(l => l?.ToString() != "full_attention"))
            throw new ModelFormatException(source, $"layer_types other than 'full_attention' are not supported for {modelType}");
    }

    internal static string ReadString(JsonObject json, string key, string fallback, string source, string prefix = "")
    {
        var node = json[key];
        if (node is null) return fallback;
        return node is JsonValue v && v.TryGetValue<string>(out var s) ? s
            : throw new ModelFormatException(source, $"field '{prefix}{key}' must be a string, got {node.ToJsonString()}");
    }

    internal static double ReadNumber(JsonObject json, string key, double fallback, string source, string prefix = "")
    {
        var node = json[key];
        if (node is null) return fallback;
        return node is JsonValue v && v.TryGetValue<double>(out var d) ? d
            : throw new ModelFormatException(source, $"field '{prefix}{key}' must be a number, got {node.ToJsonString()}");
    }

    static List<int> ReadIds(JsonNode? node, string source, string key)
    {
        try
        {
            return node switch
            {
                null => new List<int>(),
                JsonArray a => a.Select(x => x!.GetValue<int>()).ToList(),
                _ => new List<int> { node.GetValue<int>() },
            };
        }
        catch (Exception e) when (e is not ModelFormatException)
        {
            throw new ModelFormatException(source, $"field '{key}' must be an integer or a list of integers, got {node!.ToJsonString()}");
        }
    }

    /// <summary>Throws <see cref="ModelFormatException"/> naming the first absurd value.</summary>
    public void Validate(string source = "config")
    {
        void Positive(int v, string key) { if (v <= 0) throw new ModelFormatException(source, $"{key} must be positive, got {v}"); }
        Positive(VocabSize, "vocab_size");
        Positive(HiddenSize, "hidden_size");
        Positive(IntermediateSize, "intermediate_size");
        Positive(NumHiddenLayers, "num_hidden_layers");
        Positive(NumAttentionHeads, "num_attention_heads");
        Positive(NumKeyValueHeads, "num_key_value_heads");
        Positive(MaxPositionEmbeddings, "max_position_embeddings");
        if (HeadDim <= 0)
            throw new ModelFormatException(source, $"num_attention_heads ({NumAttentionHeads}) does not divide hidden_size ({HiddenSize}) and no head_dim is given");
        if (Opt is not null)
        {
            if (Opt.WordEmbedProjDim <= 0) throw new ModelFormatException(source, $"word_embed_proj_dim must be positive, got {Opt.WordEmbedProjDim}");
            if (NumKeyValueHeads != NumAttentionHeads) throw new ModelFormatException(source, "OPT has no grouped key/value heads");
            if (HiddenAct != "relu") throw new ModelFormatException(source, $"activation_function '{HiddenAct}' is not supported for OPT (only 'relu')");
        }
        else if (HeadDim % 2 != 0) throw new ModelFormatException(source, $"head_dim must be even for rotary embeddings, got {HeadDim}");
        if (NumAttentionHeads % NumKeyValueHeads != 0)
            throw new ModelFormatException(source, $"num_key_value_heads ({NumKeyValueHeads}) must divide num_attention_heads ({NumAttentionHeads})");
        if (!(RmsNormEps > 0 && RmsNormEps < 1)) throw new ModelFormatException(source, $"rms_norm_eps must be in (0, 1), got {RmsNormEps}");
        if (!(RopeTheta > 0)) throw new ModelFormatException(source, $"rope_theta must be positive, got {RopeTheta}");
        if (Opt is null && HiddenAct != "silu") throw new ModelFormatException(source, $"hidden_act '{HiddenAct}' is not supported (only 'silu')");
        if ((long)NumAttentionHeads * HeadDim > int.MaxValue)
            throw new ModelFormatException(source, $"num_attention_heads × head_dim ({NumAttentionHeads} × {HeadDim}) is too large");
        const long limit = 1L << 40;
        if ((long)VocabSize * HiddenSize > limit || (long)HiddenSize * IntermediateSize > limit || (long)HiddenSize * NumAttentionHeads * HeadDim > limit)
            throw new ModelFormatException(source, "the sizes describe a model too large to be real (over 2^40 elements in one matrix)");
        if (SlidingWindow is int w && w <= 0) throw new ModelFormatException(source, $"sliding_window must be positive, got {w}");
        if (OriginalMaxPositionEmbeddings is int o && o <= 0) throw new ModelFormatException(source, $"original_max_position_embeddings must be positive, got {o}");
        if (RopeScaling is { Type: "longrope" } lr && (lr.ShortFactor!.Count != HeadDim / 2 || lr.LongFactor!.Count != HeadDim / 2))
            throw new ModelFormatException(source, $"rope_scaling short_factor and long_factor need head_dim / 2 = {HeadDim / 2} values, got {lr.ShortFactor!.Count} and {lr.LongFactor!.Count}");
        foreach (var id in EosTokenIds.Concat(BosTokenId is int b ? new[] { b } : Array.Empty<int>()))
            if (id < 0 || id >= VocabSize) throw new ModelFormatException(source, $"special token id {id} is outside the vocabulary (size {VocabSize})");
    }

    public JsonObject ToJson()
    {
        if (Opt is not null) return OptSettings.ToJson(this);
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray(ModelType switch { "qwen2" => "Qwen2ForCausalLM", "mistral" => "MistralForCausalLM", "phi3" => "Phi3ForCausalLM", _ => "LlamaForCausalLM" }),
            ["model_type"] = ModelType,
            ["vocab_size"] = VocabSize,
            ["hidden_size"] = HiddenSize,
            ["intermediate_size"] = IntermediateSize,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["num_attention_heads"] = NumAttentionHeads,
            ["num_key_value_heads"] = NumKeyValueHeads,
            ["head_dim"] = HeadDim,
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            ["rms_norm_eps"] = RmsNormEps,
            ["rope_theta"] = RopeTheta,
            ["hidden_act"] = HiddenAct,
            ["initializer_range"] = InitializerRange,
            ["tie_word_embeddings"] = TieWordEmbeddings,
            ["attention_bias"] = AttentionBias,
            ["torch_dtype"] = TorchDtype,
        };
        if (BosTokenId is int bos) json["bos_token_id"] = bos;
        json["eos_token_id"] = EosTokenIds.Count == 1 ? JsonValue.Create(EosTokenIds[0]) : new JsonArray(EosTokenIds.Select(i => (JsonNode)i).ToArray());
        if (PadTokenId is int pad) json["pad_token_id"] = pad;
        if (RopeScaling is not null) json["rope_scaling"] = RopeScaling.ToJson();
        if (ModelType is "mistral" or "phi3") json["sliding_window"] = SlidingWindow;
        if (ModelType == "qwen2") json["use_sliding_window"] = false;
        if (OriginalMaxPositionEmbeddings is int original) json["original_max_position_embeddings"] = original;
        return json;
    }

    public LlamaConfig Clone()
    {
        var clone = FromJson((JsonObject)JsonNode.Parse(ToJson().ToJsonString())!);
        clone.GenerationConfig = (JsonObject?)GenerationConfig?.DeepClone();
        return clone;
    }
}
