using System.Diagnostics;
using Microsoft.ML.NEFTune.Modeling;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Benchmarks;

/// <summary>
/// Drives a <see cref="NeftuneTrainer"/> one optimizer step at a time (forward, loss, backward, clipping, AdamW),
/// so that several trainers can be interleaved. Each call runs the trainer's own loop and stops it at the next
/// step boundary through its cancellation token.
/// </summary>
public sealed class TrainingStepper : IDisposable
{
    private readonly LlamaForCausalLM model;
    private readonly NeftuneTrainer trainer;

    public TrainingStepper(string name, BenchmarkData data, double noiseAlpha, bool bfloat16, long initSeed)
    {
        Name = name;
        model = new LlamaForCausalLM(data.Shape.Config);
        model.InitializeWeights(initSeed);
        trainer = new NeftuneTrainer(model, data.Examples, null, data.TrainingOptions(noiseAlpha, bfloat16));
    }

    public string Name { get; }

    /// <summary>Seconds of each step taken so far, in order.</summary>
    public List<double> StepSeconds { get; } = new();

    /// <summary>Training loss of each step taken so far.</summary>
    public List<double> Losses { get; } = new();

    /// <summary>Runs one optimizer step and returns its wall time in seconds.</summary>
    public double Step()
    {
        using var stop = new CancellationTokenSource();
        var progress = new StopAfterStep(stop, Losses);
        var clock = Stopwatch.StartNew();
        trainer.Train(progress, stop.Token);
        double seconds = clock.Elapsed.TotalSeconds;
        if (!progress.Stepped) throw new InvalidOperationException($"The trainer '{Name}' took no step.");
        StepSeconds.Add(seconds);
        return seconds;
    }

    public void Dispose()
    {
        trainer.Dispose();
        model.Dispose();
    }

    private sealed class StopAfterStep(CancellationTokenSource stop, List<double> losses) : IProgress<TrainingProgress>
    {
        public bool Stepped { get; private set; }

        public void Report(TrainingProgress value)
        {
            if (value.IsEvaluation || value.TrainLoss is not double loss) return;
            losses.Add(loss);
            Stepped = true;
            stop.Cancel();
        }
    }
}
