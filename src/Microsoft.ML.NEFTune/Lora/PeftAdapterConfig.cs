using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.Modeling;
using Microsoft.ML.NEFTune.IO;

namespace Microsoft.ML.NEFTune.Lora;

/// <summary>
/// <c>adapter_config.json</c> of a Hugging Face PEFT LoRA adapter for a causal LM. Written with the fields and
/// key order (sorted, two-space indent) of PEFT's <c>save_pretrained</c>; reading rejects PEFT features this library
/// does not implement (DoRA, rsLoRA, per-module rank or alpha patterns, layer subsets, trained biases, fan-in-fan-out).
/// </summary>
public sealed record PeftAdapterConfig
{
    public const string FileName = "adapter_config.json";
    public const string WeightsFileName = "adapter_model.safetensors";

    /// <summary>Prefix of every tensor name in <c>adapter_model.safetensors</c> (PEFT's <c>PeftModelForCausalLM</c> wrapping).</summary>
    public const string TensorPrefix = "base_model.model.";

    public int R { get; init; }
    public double LoraAlpha { get; init; }
    public double LoraDropout { get; init; }
    public IReadOnlyList<string> TargetModules { get; init; } = Array.Empty<string>();
    public string? BaseModelNameOrPath { get; init; }

    public static PeftAdapterConfig From(LoraOptions options) => new()
    {
        R = options.Rank, LoraAlpha = options.Alpha, LoraDropout = options.Dropout,
        TargetModules = options.TargetModules.ToArray(), BaseModelNameOrPath = options.BaseModelNameOrPath,
    };

    /// <summary>The adapter settings as <see cref="LoraOptions"/> (no quantization).</summary>
    public LoraOptions ToOptions() => new()
    {
        Rank = R, Alpha = LoraAlpha, Dropout = LoraDropout, TargetModules = TargetModules.ToArray(), BaseModelNameOrPath = BaseModelNameOrPath,
    };

    public JsonObject ToJson()
    {
        var fields = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal)
        {
            ["alpha_pattern"] = new JsonObject(),
            ["auto_mapping"] = null,
            ["base_model_name_or_path"] = BaseModelNameOrPath,
            ["bias"] = "none",
            ["fan_in_fan_out"] = false,
            ["inference_mode"] = true,
            ["init_lora_weights"] = true,
            ["layer_replication"] = null,
            ["layers_pattern"] = null,
            ["layers_to_transform"] = null,
            ["loftq_config"] = new JsonObject(),
            ["lora_alpha"] = LoraAlpha == Math.Floor(LoraAlpha) && Math.Abs(LoraAlpha) < int.MaxValue ? JsonValue.Create((int)LoraAlpha) : JsonValue.Create(LoraAlpha),
            ["lora_dropout"] = LoraDropout,
            ["megatron_config"] = null,
            ["megatron_core"] = "megatron.core",
            ["modules_to_save"] = null,
            ["peft_type"] = "LORA",
            ["r"] = R,
            ["rank_pattern"] = new JsonObject(),
            ["revision"] = null,
            ["target_modules"] = new JsonArray(TargetModules.OrderBy(t => t, StringComparer.Ordinal).Select(t => (JsonNode?)t).ToArray()),
            ["task_type"] = "CAUSAL_LM",
            ["use_dora"] = false,
            ["use_rslora"] = false,
        };
        return new JsonObject(fields);
    }

    public void Save(string directory) =>
        AtomicFile.WriteAllText(Path.Combine(directory, FileName), ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true, IndentSize = 2 }));

    /// <summary>Reads <c>adapter_config.json</c> from a folder (or the file itself).</summary>
    public static PeftAdapterConfig Load(string path)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, FileName) : path;
        if (!File.Exists(file)) throw new FileNotFoundException($"No {FileName} found at {path}.", file);
        JsonObject o;
        try { o = JsonNode.Parse(File.ReadAllText(file)) as JsonObject ?? throw new ModelFormatException(file, "not a JSON object"); }
        catch (JsonException e) { throw new ModelFormatException(file, $"invalid JSON: {e.Message}"); }
        try
        {
            string? Str(string key) => o[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
            bool Flag(string key) => o[key] is JsonValue v && v.TryGetValue<bool>(out var b) && b;
            bool NonEmpty(string key) => o[key] switch { null => false, JsonObject obj => obj.Count > 0, JsonArray a => a.Count > 0, _ => true };

            if (Str("peft_type") is { } type && type != "LORA") throw new ModelFormatException(file, $"peft_type is '{type}'; only LORA adapters are supported");
            if (Str("task_type") is { } task && task != "CAUSAL_LM") throw new ModelFormatException(file, $"task_type is '{task}'; only CAUSAL_LM adapters are supported");
            if (Str("bias") is { } bias && bias != "none") throw new ModelFormatException(file, $"bias is '{bias}'; only adapters without trained biases (bias \"none\") are supported");
            foreach (var flag in new[] { "use_dora", "use_rslora", "fan_in_fan_out" })
                if (Flag(flag)) throw new ModelFormatException(file, $"{flag} is true; this is not supported");
            foreach (var key in new[] { "rank_pattern", "alpha_pattern", "layers_to_transform", "modules_to_save", "layer_replication" })
                if (NonEmpty(key)) throw new ModelFormatException(file, $"{key} is set; per-module patterns, layer subsets and extra trained modules are not supported");
            int r = o["r"]?.GetValue<int>() ?? 8;
            double alpha = o["lora_alpha"]?.GetValue<double>() ?? 8;
            double dropout = o["lora_dropout"]?.GetValue<double>() ?? 0;
            IReadOnlyList<string> targets = o["target_modules"] switch
            {
                JsonArray a => a.Select(x => x!.GetValue<string>()).ToArray(),
                JsonValue v when v.GetValue<string>() is "all-linear" => LoraOptions.AllProjections,
                JsonValue v => throw new ModelFormatException(file, $"target_modules is the pattern '{v.GetValue<string>()}'; give a list of module names"),
                _ => throw new ModelFormatException(file, "target_modules is missing"),
            };
            var unknown = targets.FirstOrDefault(t => !LoraOptions.KnownProjections.Contains(t));
            if (unknown is not null) throw new ModelFormatException(file, $"target module '{unknown}' is not a decoder projection ({string.Join(", ", LoraOptions.KnownProjections)})");
            return new PeftAdapterConfig
            {
                R = r, LoraAlpha = alpha, LoraDropout = dropout,
                TargetModules = LoraOptions.KnownProjections.Where(targets.Contains).ToArray(), BaseModelNameOrPath = Str("base_model_name_or_path"),
            };
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new ModelFormatException(file, $"malformed field ({e.Message})");
        }
    }
}
