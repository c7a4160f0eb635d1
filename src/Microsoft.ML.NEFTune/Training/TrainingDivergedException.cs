namespace Microsoft.ML.NEFTune.Training;

/// <summary>The loss became NaN or infinite; the last good checkpoint is kept.</summary>
public sealed class TrainingDivergedException : Exception
{
    public TrainingDivergedException(long step, double loss, string? lastCheckpoint)
        : base($"Training diverged at step {step}: loss is {loss}. " + (lastCheckpoint is null ? "No checkpoint was written yet." : $"The last good checkpoint is {lastCheckpoint}.") +
               " Lower the learning rate or enable gradient clipping.")
    {
        Step = step; Loss = loss; LastCheckpoint = lastCheckpoint;
    }
    public long Step { get; }
    public double Loss { get; }
    public string? LastCheckpoint { get; }
}
