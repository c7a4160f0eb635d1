using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Experiments;

/// <summary>Hooks through which a <see cref="ComparisonRunner"/> reports what it does; every method does nothing by default.</summary>
public class ComparisonObserver
{
    /// <summary>A one-line note (data read, examples dropped…).</summary>
    public virtual void Log(string message) { }

    /// <summary>Run <paramref name="index"/> (0-based) of <paramref name="count"/> begins.</summary>
    public virtual void RunStarting(ComparisonRun run, ComparisonRunStart start, int index, int count) { }

    /// <summary>Runs the training of <paramref name="run"/>; <paramref name="train"/> takes the progress sink to report to.</summary>
    public virtual FineTuningResult Train(ComparisonRun run, Func<IProgress<TrainingProgress>?, FineTuningResult> train) => train(null);

    /// <summary>Run <paramref name="index"/> has its result (also called for runs finished earlier).</summary>
    public virtual void RunFinished(ComparisonRun run, ComparisonRunResult result, ComparisonRunStart start, int index, int count) { }

    /// <summary>The tables were rewritten with the results so far.</summary>
    public virtual void SummaryWritten(ComparisonSummary summary) { }
}
