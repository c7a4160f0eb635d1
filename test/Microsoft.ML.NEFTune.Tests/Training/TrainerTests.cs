using Microsoft.ML.NEFTune.Noise;
using Microsoft.ML.NEFTune.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.Training;

public class TrainerTests
{
    private static readonly TrainingOptions Fast = new()
    {
        LearningRate = 1e-2, BatchSize = 4, Epochs = 3, WarmupRatio = 0.1, NoiseOffTrainSampleSize = 8, Seed = 5,
        Noise = new NeftuneOptions { Alpha = 5 },
    };

    private static float[] Weights(Microsoft.ML.NEFTune.Modeling.LlamaForCausalLM model) =>
        model.parameters().SelectMany(p => p.detach().cpu().data<float>().ToArray()).ToArray();

    [Fact]
    public void TrainingWithNoiseLowersValidationLoss()
    {
        using var model = TinyModels.Create();
        var data = TinyModels.PatternExamples(64, seed: 1);
        var val = TinyModels.PatternExamples(16, seed: 2);
        // alpha/sqrt(L·d) is sized for large L·d; on a d=32 model alpha=1 already gives noise of the embeddings' own scale.
        using var trainer = new NeftuneTrainer(model, data, val, Fast with { Epochs = 6, Noise = new NeftuneOptions { Alpha = 1 } });
        double before = trainer.MeanLoss(new TrainingBatches(val, 4, 0, false, 0, shuffle: false));
        var result = trainer.Train();
        Assert.True(result.FinalValidationLoss < before - 0.5, $"validation loss {before} -> {result.FinalValidationLoss}");
        Assert.False(model.training);
        Assert.Null(model.Model.EmbeddingTransform);
    }

    [Fact]
    public void ZeroAlphaMatchesAPlainTorchSharpTrainingLoop()
    {
        var data = TinyModels.PatternExamples(8, seed: 3);
        var options = Fast with { Noise = new NeftuneOptions { Alpha = 0 }, Scheduler = LearningRateSchedule.Constant, WarmupRatio = 0, MaxGradNorm = 0, Epochs = 1, BatchSize = 2, GroupByLength = false, NoiseOffTrainSampleSize = 0, WeightDecay = 0.1 };
        using var ours = TinyModels.Create(seed: 9);
        using (var trainer = new NeftuneTrainer(ours, data, null, options)) trainer.Train();

        // The same batches through torch.optim.AdamW and a hand-written loop.
        using var reference = TinyModels.Create(seed: 9);
        var decay = reference.named_parameters().Where(p => !AdamW.DefaultNoDecay(p.name)).Select(p => p.parameter).ToList();
        var noDecay = reference.named_parameters().Where(p => AdamW.DefaultNoDecay(p.name)).Select(p => p.parameter).ToList();
        using var optimizer = optim.AdamW(new[]
        {
            new TorchSharp.Modules.AdamW.ParamGroup(decay, new TorchSharp.Modules.AdamW.Options { LearningRate = options.LearningRate, weight_decay = 0.1 }),
            new TorchSharp.Modules.AdamW.ParamGroup(noDecay, new TorchSharp.Modules.AdamW.Options { LearningRate = options.LearningRate, weight_decay = 0 }),
        });
        var batches = new TrainingBatches(data, 2, options.Seed, false, 0, shuffle: true);
        reference.train();
        for (int i = 0; i < batches.BatchCount; i++)
        {
            using var scope = NewDisposeScope();
            var (ids, labels, seq) = batches.Batch(0, i).ToTensors(CPU);
            optimizer.zero_grad();
            reference.Loss(ids, labels, seq).backward();
            optimizer.step();
        }
        var a = Weights(ours); var b = Weights(reference);
        Assert.Equal(a.Length, b.Length);
        Assert.True(a.Zip(b).Max(x => Math.Abs(x.First - x.Second)) < 1e-6);
    }

    [Fact]
    public void ResumedRunEndsWithBitIdenticalWeights()
    {
        var data = TinyModels.PatternExamples(24, seed: 4);
        var val = TinyModels.PatternExamples(4, seed: 6);
        using var dirA = new TempDirectory();
        using var dirB = new TempDirectory();
        var options = Fast with { Epochs = 2, GradientAccumulationSteps = 2, SaveSteps = 2 };

        using var straight = TinyModels.Create(seed: 2);
        using (var t = new NeftuneTrainer(straight, data, val, options with { OutputDirectory = dirA.Path })) t.Train();

        using var cts = new CancellationTokenSource();
        using (var first = TinyModels.Create(seed: 2))
        using (var t = new NeftuneTrainer(first, data, val, options with { OutputDirectory = dirB.Path }))
        {
            var result = t.Train(new SyncProgress(p => { if (p.Step == 3) cts.Cancel(); }), cts.Token);
            Assert.True(result.Cancelled);
            Assert.Equal(3, result.Steps);
        }
        using var resumed = TinyModels.Create(seed: 77);   // different start: everything must come from the checkpoint
        using (var t = new NeftuneTrainer(resumed, data, val, options with { OutputDirectory = dirB.Path }))
        {
            t.ResumeFrom(dirB.Path);
            Assert.Equal(t.TotalSteps, t.Train().Steps);
        }
        Assert.Equal(Weights(straight), Weights(resumed));
    }

    [Fact]
    public void CancellationDuringAStepIsSeenRightAfterItsOptimizerStepBeforeItsEvaluation()
    {
        var data = TinyModels.PatternExamples(16, seed: 4);
        using var model = TinyModels.Create(seed: 2);
        using var cts = new CancellationTokenSource();
        using var trainer = new NeftuneTrainer(model, data, data, Fast with { EvalSteps = 1, Epochs = 4, NoiseOffTrainSampleSize = 0 });
        var result = trainer.Train(new SyncProgress(p => { if (p.Step == 2 && !p.IsEvaluation) cts.Cancel(); }), cts.Token);
        Assert.True(result.Cancelled);
        Assert.Equal(2, result.Steps);
        Assert.Contains(result.History, h => h.IsEvaluation && h.Step == 1);
        Assert.DoesNotContain(result.History, h => h.IsEvaluation && h.Step == 2);
    }

    [Fact]
    public void NonFiniteLossStopsWithAClearError()
    {
        using var model = TinyModels.Create();
        using (no_grad()) model.Model.EmbeddingWeight.fill_(float.NaN);
        using var trainer = new NeftuneTrainer(model, TinyModels.PatternExamples(8), null, Fast);
        var e = Assert.Throws<TrainingDivergedException>(() => trainer.Train());
        Assert.Equal(1, e.Step);
        Assert.Contains("NaN", e.Message);
    }

    [Fact]
    public void PackedTrainingUsesFewerRowsAndStillLearns()
    {
        using var model = TinyModels.Create();
        var data = TinyModels.PatternExamples(64, seed: 1);
        var packed = new TrainingBatches(data, 4, 0, false, 0, shuffle: true, packingLength: 64);
        Assert.True(packed.RowCount < data.Count / 2, $"{packed.RowCount} rows for {data.Count} examples");
        using var trainer = new NeftuneTrainer(model, data, data, Fast with { Epochs = 20, PackingLength = 64, Noise = new NeftuneOptions { Alpha = 1 } });
        double before = trainer.MeanLoss(new TrainingBatches(data, 4, 0, false, 0, shuffle: false));
        Assert.True(trainer.Train().FinalValidationLoss < before - 0.5);
    }

    [Fact]
    public void InvalidOptionsAreRejectedWithTheirName()
    {
        using var model = TinyModels.Create();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new NeftuneTrainer(model, TinyModels.PatternExamples(4), null, Fast with { BatchSize = 0 }));
        Assert.Equal("BatchSize", e.ParamName);
    }

    [Fact]
    public void MetricsFileHasOneLinePerStepAndEvaluationLines()
    {
        using var dir = new TempDirectory();
        using var model = TinyModels.Create();
        var data = TinyModels.PatternExamples(16);
        using var trainer = new NeftuneTrainer(model, data, data, Fast with { OutputDirectory = dir.Path, Epochs = 2 });
        trainer.Train();
        var lines = MetricsLog.Read(dir["metrics.jsonl"]);
        Assert.Equal(trainer.TotalSteps, lines.Count(l => l["train_loss"] is not null));
        Assert.Equal(2, lines.Count(l => l["val_loss"] is not null));
        Assert.All(lines.Where(l => l["val_loss"] is not null), l => Assert.NotNull(l["train_loss_noise_off"]));
        Assert.True(File.Exists(dir["model.safetensors"]) && File.Exists(dir["config.json"]));
    }

    /// <summary>Progress that reports synchronously (System.Progress posts to the thread pool).</summary>
    internal sealed class SyncProgress(Action<TrainingProgress> action) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => action(value);
    }
}
