using System.Text.Json;

namespace Microsoft.ML.NEFTune.Training;

/// <summary>Where a run is: saved in each checkpoint as <c>trainer_state.json</c>.</summary>
public sealed record TrainerState
{
    public long GlobalStep { get; init; }
    /// <summary>Epoch of the next micro-batch.</summary>
    public int Epoch { get; init; }
    /// <summary>Index of the next micro-batch within <see cref="Epoch"/>.</summary>
    public int BatchIndex { get; init; }
    public double? BestValidationLoss { get; init; }
    public long? BestStep { get; init; }
    public int EvaluationsWithoutImprovement { get; init; }
    public long Seed { get; init; }

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static TrainerState Load(string path)
    {
        try { return JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path}: empty trainer state"); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: invalid trainer state ({e.Message})", e); }
    }
}
