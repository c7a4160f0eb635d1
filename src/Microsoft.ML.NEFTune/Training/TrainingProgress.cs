namespace Microsoft.ML.NEFTune.Training;

/// <summary>A progress report after an optimizer step or an evaluation.</summary>
public sealed record TrainingProgress
{
    public long Step { get; init; }
    public long TotalSteps { get; init; }
    /// <summary>Fractional epoch, e.g. 1.5 = halfway through the second pass.</summary>
    public double Epoch { get; init; }
    /// <summary>Mean per-token training loss (with noise) over the steps since the last report.</summary>
    public double? TrainLoss { get; init; }
    public double? LearningRate { get; init; }
    public double? GradNorm { get; init; }
    public double? TokensPerSecond { get; init; }
    public TimeSpan? Eta { get; init; }
    /// <summary>Validation loss with noise off (evaluation reports only).</summary>
    public double? ValidationLoss { get; init; }
    /// <summary>Training loss with noise off on a fixed sample of the training data (evaluation reports only).</summary>
    public double? TrainLossNoiseOff { get; init; }
    public bool IsEvaluation => ValidationLoss is not null || TrainLossNoiseOff is not null;
}
