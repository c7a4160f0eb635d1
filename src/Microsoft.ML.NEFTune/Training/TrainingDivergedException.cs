namespace Microsoft.ML.NEFTune.Training;

/// <summary>The loss or the gradient norm became NaN or infinite; the last good checkpoint is kept.</summary>
public sealed class TrainingDivergedException : Exception
{
    public TrainingDivergedException(long step, double loss, string? lastCheckpoint)
        : this(step, loss, lastCheckpoint, gradientNorm: 0)
    {
    }

    /// <summary>The loss or the gradient norm of step <paramref name="step"/> is NaN or infinite; the weights it produced are not saved.</summary>
    public TrainingDivergedException(long step, double loss, string? lastCheckpoint, double gradientNorm)
        : base($"Training diverged at step {step}: " +
               (double.IsFinite(loss) ? $"the gradient norm is {gradientNorm} (loss {loss}). " : $"loss is {loss}. ") + (lastCheckpoint is null ? "No checkpoint was written yet." : $"The last good checkpoint is {lastCheckpoint}.") +
               " Lower the learning rate or enable gradient clipping.")
    {
        Step = step; Loss = loss; LastCheckpoint = lastCheckpoint; GradientNorm = gradientNorm;
    }
    /// <summary>The gradient norm of the step (0 when only the loss was checked).</summary>
    public double GradientNorm { get; }
    public long Step { get; }
    public double Loss { get; }
    public string? LastCheckpoint { get; }
}
