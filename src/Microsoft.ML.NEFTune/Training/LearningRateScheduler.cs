namespace Microsoft.ML.NEFTune.Training;

/// <summary>Shape of the learning rate after warmup.</summary>
public enum LearningRateSchedule { Constant, Linear, Cosine }

/// <summary>
/// Learning rate at an optimizer step, as Hugging Face's schedules compute it: linear warmup from 0 over
/// <c>warmupSteps</c>, then constant, linear decay to 0, or half a cosine to 0 at <c>totalSteps</c>.
/// A pure function of the step, so resuming needs only the step.
/// </summary>
public sealed record LearningRateScheduler(double PeakLearningRate, LearningRateSchedule Schedule, int WarmupSteps, int TotalSteps)
{
    /// <summary>Learning rate used for the update that follows <paramref name="step"/> completed updates.</summary>
    public double At(long step)
    {
        if (step < WarmupSteps) return PeakLearningRate * step / Math.Max(1, WarmupSteps);
        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return Schedule switch
        {
            LearningRateSchedule.Constant => PeakLearningRate,
            LearningRateSchedule.Linear => PeakLearningRate * Math.Max(0, 1 - progress),
            _ => PeakLearningRate * Math.Max(0, 0.5 * (1 + Math.Cos(Math.PI * progress))),
        };
    }
}
