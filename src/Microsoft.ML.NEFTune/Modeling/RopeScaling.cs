using System.Text.Json.Nodes;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>The <c>rope_scaling</c> block of a config: <c>linear</c> or <c>llama3</c> frequency scaling.</summary>
public sealed record RopeScaling(string Type, double Factor, double LowFreqFactor = 1, double HighFreqFactor = 4, int OriginalMaxPositionEmbeddings = 8192)
{
    public static RopeScaling FromJson(JsonObject json, string source)
    {
        const string prefix = "rope_scaling.";
        var type = LlamaConfig.ReadString(json, json.ContainsKey("rope_type") ? "rope_type" : "type", "", source, prefix);
        if (type.Length == 0) throw new ModelFormatException(source, "rope_scaling has no 'rope_type'");
        if (type is not ("linear" or "llama3" or "default"))
            throw new ModelFormatException(source, $"rope_scaling type '{type}' is not supported (linear, llama3)");
        double factor = LlamaConfig.ReadNumber(json, "factor", 1.0, source, prefix);
        if (!(factor > 0 && double.IsFinite(factor))) throw new ModelFormatException(source, $"rope_scaling.factor must be positive, got {factor}");
        double low = LlamaConfig.ReadNumber(json, "low_freq_factor", 1, source, prefix);
        double high = LlamaConfig.ReadNumber(json, "high_freq_factor", 4, source, prefix);
        double original = LlamaConfig.ReadNumber(json, "original_max_position_embeddings", 8192, source, prefix);
        if (type == "llama3" && !(low > 0 && high > low && double.IsFinite(high)))
            throw new ModelFormatException(source, $"rope_scaling needs 0 < low_freq_factor < high_freq_factor, got {low} and {high}");
        if (!(original >= 1 && original <= int.MaxValue && original == Math.Floor(original)))
            throw new ModelFormatException(source, $"rope_scaling.original_max_position_embeddings must be a positive integer, got {original}");
        return new RopeScaling(type, factor, low, high, (int)original);
    }

    public JsonObject ToJson() => Type == "llama3"
        ? new JsonObject { ["rope_type"] = Type, ["factor"] = Factor, ["low_freq_factor"] = LowFreqFactor, ["high_freq_factor"] = HighFreqFactor, ["original_max_position_embeddings"] = OriginalMaxPositionEmbeddings }
        : new JsonObject { ["rope_type"] = Type, ["factor"] = Factor };

    /// <summary>Applies the scaling to the base inverse frequencies <c>theta^(-2i/d)</c>.</summary>
    public double[] Scale(double[] invFreq)
    {
        if (Type == "linear") return invFreq.Select(f => f / Factor).ToArray();
        if (Type != "llama3") return invFreq;
        double lowWavelen = OriginalMaxPositionEmbeddings / LowFreqFactor;
        double highWavelen = OriginalMaxPositionEmbeddings / HighFreqFactor;
        return invFreq.Select(f =>
        {
            double wavelen = 2 * Math.PI / f;
            if (wavelen < highWavelen) return f;
            if (wavelen > lowWavelen) return f / Factor;
            double smooth = (OriginalMaxPositionEmbeddings / wavelen - LowFreqFactor) / (HighFreqFactor - LowFreqFactor);
            return (1 - smooth) * f / Factor + smooth * f;
        }).ToArray();
    }
}
