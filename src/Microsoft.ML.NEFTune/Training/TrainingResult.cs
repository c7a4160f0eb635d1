namespace Microsoft.ML.NEFTune.Training;

/// <summary>What a finished (or cancelled, or early-stopped) run reports.</summary>
public sealed record TrainingResult
{
    public long Steps { get; init; }
    public double? FinalTrainLoss { get; init; }
    public double? FinalValidationLoss { get; init; }
    public double? BestValidationLoss { get; init; }
    public long? BestStep { get; init; }
    public double? FinalTrainLossNoiseOff { get; init; }
    public bool Cancelled { get; init; }
    public bool StoppedEarly { get; init; }
    public IReadOnlyList<TrainingProgress> History { get; init; } = Array.Empty<TrainingProgress>();
}
