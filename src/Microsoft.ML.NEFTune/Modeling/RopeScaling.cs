using System.Text.Json.Nodes;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>
/// The <c>rope_scaling</c> block of a config, as Hugging Face <c>modeling_rope_utils.py</c> reads it: <c>linear</c>,
/// <c>dynamic</c> (NTK-aware, recomputed for passes longer than <c>max_position_embeddings</c>), <c>llama3</c> (Llama 3.1+)
/// or <c>longrope</c> (Phi-3 128k; its older name <c>su</c> is read as <c>longrope</c>). Any other type is refused by name.
/// </summary>
public sealed record RopeScaling(string Type, double Factor, double LowFreqFactor = 1, double HighFreqFactor = 4, int OriginalMaxPositionEmbeddings = 8192)
{
    /// <summary>The <c>rope_type</c> values this library computes exactly as Hugging Face does.</summary>
    public static readonly IReadOnlyList<string> SupportedTypes = new[] { "default", "linear", "dynamic", "llama3", "longrope" };

    /// <summary>LongRoPE: per-frequency divisors used while a pass stays within the original context (one per frequency).</summary>
    public IReadOnlyList<double>? ShortFactor { get; init; }

    /// <summary>LongRoPE: per-frequency divisors used once a pass goes beyond the original context.</summary>
    public IReadOnlyList<double>? LongFactor { get; init; }

    /// <summary>LongRoPE: the factor cos and sin are multiplied by; null derives it from the context extension.</summary>
    public double? AttentionFactor { get; init; }

    public static RopeScaling FromJson(JsonObject json, string source)
    {
        const string prefix = "rope_scaling.";
        var type = LlamaConfig.ReadString(json, json.ContainsKey("rope_type") ? "rope_type" : "type", "", source, prefix);
        if (type.Length == 0) throw new ModelFormatException(source, "rope_scaling has no 'rope_type'");
        if (type == "su") type = "longrope";
        if (!SupportedTypes.Contains(type))
            throw new ModelFormatException(source, $"rope_scaling type '{type}' is not supported (supported: {string.Join(", ", SupportedTypes)})");
        double factor = LlamaConfig.ReadNumber(json, "factor", 1.0, source, prefix);
        if (!(factor > 0 && double.IsFinite(factor))) throw new ModelFormatException(source, $"rope_scaling.factor must be positive, got {factor}");
        if (type is "linear" or "dynamic" && json["factor"] is null) throw new ModelFormatException(source, $"rope_scaling type '{type}' needs a 'factor'");
        double low = LlamaConfig.ReadNumber(json, "low_freq_factor", 1, source, prefix);
        double high = LlamaConfig.ReadNumber(json, "high_freq_factor", 4, source, prefix);
        double original = LlamaConfig.ReadNumber(json, "original_max_position_embeddings", 8192, source, prefix);
        if (type == "llama3" && !(low > 0 && high > low && double.IsFinite(high)))
            throw new ModelFormatException(source, $"rope_scaling needs 0 < low_freq_factor < high_freq_factor, got {low} and {high}");
        if (!(original >= 1 && original <= int.MaxValue && original == Math.Floor(original)))
            throw new ModelFormatException(source, $"rope_scaling.original_max_position_embeddings must be a positive integer, got {original}");
        var scaling = new RopeScaling(type, factor, low, high, (int)original);
        if (type != "longrope") return scaling;
        double? attention = json["attention_factor"] is null ? null : LlamaConfig.ReadNumber(json, "attention_factor", 1, source, prefix);
        if (attention is double a && !(a > 0 && double.IsFinite(a))) throw new ModelFormatException(source, $"rope_scaling.attention_factor must be positive, got {a}");
        return scaling with { ShortFactor = Factors(json, "short_factor", source), LongFactor = Factors(json, "long_factor", source), AttentionFactor = attention };
    }

    private static double[] Factors(JsonObject json, string key, string source)
    {
        if (json[key] is not JsonArray array) throw new ModelFormatException(source, $"rope_scaling type 'longrope' needs a list 'rope_scaling.{key}'");
        var values = new double[array.Count];
        for (int i = 0; i < values.Length; i++)
        {
            if (array[i] is not JsonValue v || !v.TryGetValue<double>(out values[i]) || !(values[i] > 0 && double.IsFinite(values[i])))
                throw new ModelFormatException(source, $"rope_scaling.{key}[{i}] must be a positive number, got {array[i]?.ToJsonString() ?? "null"}");
        }
        return values;
    }

    public JsonObject ToJson()
    {
        var json = new JsonObject { ["rope_type"] = Type };
        switch (Type)
        {
            case "llama3":
                json["factor"] = Factor; json["low_freq_factor"] = LowFreqFactor; json["high_freq_factor"] = HighFreqFactor;
                json["original_max_position_embeddings"] = OriginalMaxPositionEmbeddings;
                break;
            case "longrope":
                json["type"] = Type;   // Phi3Config reads 'type'
                json["short_factor"] = new JsonArray(ShortFactor!.Select(f => (JsonNode)f).ToArray());
                json["long_factor"] = new JsonArray(LongFactor!.Select(f => (JsonNode)f).ToArray());
                if (AttentionFactor is double a) json["attention_factor"] = a;
                break;
            case "default":
                break;
            default:
                json["factor"] = Factor;
                break;
        }
        return json;
    }
}
