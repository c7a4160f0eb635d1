using Microsoft.ML.NEFTune.Experiments;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Tests.Cli;

public class ComparisonRunnerTests
{
    private sealed class CancelAfter(long step, CancellationTokenSource cancel) : ComparisonObserver
    {
        public List<(string Run, ComparisonRunStart Start)> Starts { get; } = new();

        public override void RunStarting(ComparisonRun run, ComparisonRunStart start, int index, int count) => Starts.Add((run.Name, start));

        public override FineTuningResult Train(ComparisonRun run, Func<IProgress<TrainingProgress>?, FineTuningResult> train) =>
            train(new Progress(p => { if (!p.IsEvaluation && p.Step == step) cancel.Cancel(); }));

        private sealed class Progress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
        {
            public void Report(TrainingProgress value) => report(value);
        }
    }

    private static ComparisonOptions Options(TinyLlamaDirectory dir, string output) => new()
    {
        Request = new FineTuningRequest
        {
            ModelPath = dir.ModelPath, DataPath = dir.DataPath,
            Training = new TrainingOptions { ValidationFraction = 0.25, MaxLength = 48, MaxSteps = 4, BatchSize = 2, LearningRate = 1e-3, SaveSteps = 2, EvalSteps = 2 },
        },
        Alphas = new[] { 5.0 }, Seeds = new long[] { 7 }, OutputDirectory = output, GenerateCount = 0,
    };

    private static float[] Weights(string modelDir)
    {
        var file = SafetensorsFile.Open(Path.Combine(modelDir, "model.safetensors"));
        return file.Entries.Keys.OrderBy(k => k).SelectMany(k => { using var t = file.Read(k); return t.data<float>().ToArray(); }).ToArray();
    }

    [Fact]
    public void InterruptedRunResumesFromItsCheckpointToTheSameWeightsAsAStraightRun()
    {
        using var dir = new TinyLlamaDirectory(records: 8);
        var straight = new ComparisonRunner(Options(dir, dir["straight"])).Run();
        Assert.True(straight.Complete);

        using var cancel = new CancellationTokenSource();
        var observer = new CancelAfter(3, cancel);
        var runner = new ComparisonRunner(Options(dir, dir["interrupted"]));
        var partial = runner.Run(observer, cancel.Token);

        Assert.False(partial.Complete);
        var run = runner.Runs.Single();
        Assert.Equal(ComparisonRunStart.Resume, run.Start);
        Assert.EndsWith("checkpoint-3", run.LatestCheckpoint);
        Assert.Contains("0 of 1 runs done", File.ReadAllText(Path.Combine(dir["interrupted"], ComparisonRunner.MarkdownFileName)));

        var resumed = new ComparisonRunner(Options(dir, dir["interrupted"])).Run(observer);

        Assert.True(resumed.Complete);
        Assert.Equal(new[] { ("alpha-5/seed-7", ComparisonRunStart.Fresh), ("alpha-5/seed-7", ComparisonRunStart.Resume) }, observer.Starts);
        Assert.Equal(Weights(Path.Combine(dir["straight"], "alpha-5", "seed-7")), Weights(run.Directory));
        var a = straight.Results.Single();
        var b = resumed.Results.Single();
        Assert.Equal(a with { }, b with { });
        Assert.Equal(4, b.Steps);
        Assert.Equal(new long[] { 1, 2, 3, 4 }, MetricsHistory.Read(run.MetricsPath).TrainLoss.Select(p => p.Step));
    }
}
