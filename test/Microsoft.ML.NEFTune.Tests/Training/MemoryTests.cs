using System.Diagnostics;
using Microsoft.ML.NEFTune.Noise;
using Microsoft.ML.NEFTune.Training;
using TorchSharp;

namespace Microsoft.ML.NEFTune.Tests.Training;

/// <summary>Runs alone: the working set is process-wide, so parallel tests would blur it.</summary>
[CollectionDefinition(nameof(MemoryTests), DisableParallelization = true)]
public sealed class MemoryTestCollection;

[Collection(nameof(MemoryTests))]
public class MemoryTests
{
    [Fact]
    public void LiveTensorsAndWorkingSetStayFlatOverManySteps()
    {
        using var model = TinyModels.Create();
        var data = TinyModels.PatternExamples(32, seed: 12);
        var options = new TrainingOptions { LearningRate = 1e-3, BatchSize = 4, MaxSteps = 150, GradientAccumulationSteps = 2, EvalSteps = 100, NoiseOffTrainSampleSize = 8, Noise = new NeftuneOptions { Alpha = 5 } };
        using var trainer = new NeftuneTrainer(model, data, data, options);
        var live = new Dictionary<long, long>();
        var workingSet = new Dictionary<long, long>();
        trainer.Train(new TrainerTests.SyncProgress(p =>
        {
            if (p.IsEvaluation || p.Step % 50 != 0) return;
            GC.Collect(); GC.WaitForPendingFinalizers();
            live[p.Step] = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            workingSet[p.Step] = Process.GetCurrentProcess().WorkingSet64;
        }));
        Assert.Equal(3, live.Count);
        Assert.Equal(live[50], live[150]);                                   // no tensor outlives its step
        Assert.InRange(workingSet[150] - workingSet[50], long.MinValue, 32L << 20);
    }
}
