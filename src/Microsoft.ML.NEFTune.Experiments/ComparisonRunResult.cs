using System.Text.Json;
using System.Text.Json.Serialization;

namespace Microsoft.ML.NEFTune.Experiments;

/// <summary>What one fine-tuning run of a comparison gave: its losses and the length and diversity of its responses.</summary>
public sealed record ComparisonRunResult
{
    /// <summary>A run that trained to the end.</summary>
    public const string Finished = "finished";

    /// <summary>A run whose loss became NaN or infinite; its losses are those logged before.</summary>
    public const string Diverged = "diverged";

    public double Alpha { get; init; }

    /// <summary>The noise kind of a comparison that names kinds (null = the request's kind, or noise off).</summary>
    public string? Kind { get; init; }

    public long Seed { get; init; }

    /// <summary><see cref="Finished"/> or <see cref="Diverged"/>.</summary>
    public string Status { get; init; } = Finished;

    /// <summary>Why the run failed, for a diverged run.</summary>
    public string? Error { get; init; }

    public long Steps { get; init; }
    public double? FinalTrainLoss { get; init; }
    public double? FinalValidationLoss { get; init; }
    public double? BestValidationLoss { get; init; }
    public long? BestStep { get; init; }
    public double? FinalTrainLossNoiseOff { get; init; }

    /// <summary>Validation prompts answered by the final model (0 when none were generated).</summary>
    public int Responses { get; init; }
    public double? AverageResponseCharacters { get; init; }
    public double? AverageResponseTokens { get; init; }
    public double? AverageResponseWords { get; init; }
    public double? Diversity { get; init; }
    public double? LogDiversity { get; init; }

    [JsonIgnore]
    public bool IsFinished => Status == Finished;

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <exception cref="InvalidDataException">The file is not a run result.</exception>
    public static ComparisonRunResult Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<ComparisonRunResult>(File.ReadAllText(path), Json)
                ?? throw new InvalidDataException($"{path}: empty run result");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a run result ({e.Message}); delete it to evaluate the run again", e);
        }
    }

    internal static double? Finite(double? value) => value is double d && double.IsFinite(d) ? d : null;
}
