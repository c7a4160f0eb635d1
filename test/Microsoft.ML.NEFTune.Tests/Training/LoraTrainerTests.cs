using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Lora;
using Microsoft.ML.NEFTune.Modeling;
using Microsoft.ML.NEFTune.Noise;
using Microsoft.ML.NEFTune.Quantization;
using Microsoft.ML.NEFTune.Tests.Lora;
using Microsoft.ML.NEFTune.Training;
using TorchSharp;
using static TorchSharp.torch;
using LoraApi = Microsoft.ML.NEFTune.Lora.LoraAdapters;

namespace Microsoft.ML.NEFTune.Tests.Training;

public class LoraTrainerTests
{
    private static readonly TrainingOptions Fast = new()
    {
        LearningRate = 1e-2, BatchSize = 4, Epochs = 2, WarmupRatio = 0.1, NoiseOffTrainSampleSize = 4, Seed = 5,
        Noise = new NeftuneOptions { Alpha = 1 }, Lora = new LoraOptions { Rank = 4, TargetModules = LoraOptions.AllProjections },
    };

    private static float[] Adapters(LlamaForCausalLM model) =>
        LoraApi.AdapterParameters(model).SelectMany(p => p.Parameter.detach().cpu().data<float>().ToArray()).ToArray();

    [Fact]
    public void LoraRunTrainsOnlyTheAdaptersAndSavesThePeftAdapterAndTheMergedModel()
    {
        using var dir = new TempDirectory();
        using var model = TinyModels.Create(seed: 2);
        var data = TinyModels.PatternExamples(16, seed: 3);
        using (var trainer = new NeftuneTrainer(model, data, data, Fast with { OutputDirectory = dir.Path, Lora = Fast.Lora! with { BaseModelNameOrPath = "tiny" } }))
        {
            Assert.True(trainer.IsLora);
            trainer.Train();
        }
        Assert.True(File.Exists(dir["adapter_config.json"]) && File.Exists(dir["adapter_model.safetensors"]));
        Assert.False(File.Exists(dir["model.safetensors"]));
        Assert.Equal("tiny", PeftAdapterConfig.Load(dir.Path).BaseModelNameOrPath);
        Assert.True(File.Exists(Path.Combine(dir["best-model"], "adapter_model.safetensors")));
        using var expected = LoraTestModels.Logits(model);

        using var merged = HuggingFaceCheckpoint.Load(dir["merged"]);
        using var mergedLogits = LoraTestModels.Logits(merged);
        Assert.True(LoraTestModels.MaxAbsDifference(expected, mergedLogits) < 1e-5);

        using var reloaded = TinyModels.Create(seed: 2);
        LoraApi.LoadAdapter(reloaded, dir.Path);
        using var reloadedLogits = LoraTestModels.Logits(reloaded);
        Assert.Equal(0, LoraTestModels.MaxAbsDifference(expected, reloadedLogits));
    }

    [Fact]
    public void ResumedQLoraRunWithDropoutEndsWithBitIdenticalAdapters()
    {
        var data = TinyModels.PatternExamples(24, seed: 4);
        using var dirA = new TempDirectory();
        using var dirB = new TempDirectory();
        var options = Fast with { SaveSteps = 2, Lora = Fast.Lora! with { Dropout = 0.2, QuantizeBase = BaseQuantization.Nf4, SaveMergedModel = false } };

        using var straight = TinyModels.Create(seed: 2);
        using (var t = new NeftuneTrainer(straight, data, null, options with { OutputDirectory = dirA.Path })) t.Train();

        using var cts = new CancellationTokenSource();
        using (var first = TinyModels.Create(seed: 2))
        using (var t = new NeftuneTrainer(first, data, null, options with { OutputDirectory = dirB.Path }))
            Assert.True(t.Train(new TrainerTests.SyncProgress(p => { if (p.Step == 3) cts.Cancel(); }), cts.Token).Cancelled);
        var checkpoint = CheckpointStore.Resolve(dirB.Path);
        Assert.True(File.Exists(Path.Combine(checkpoint, "adapter_model.safetensors")));
        Assert.False(File.Exists(Path.Combine(checkpoint, "model.safetensors")));

        using var resumed = TinyModels.Create(seed: 2);
        using (var t = new NeftuneTrainer(resumed, data, null, options with { OutputDirectory = dirB.Path, Seed = options.Seed }))
        {
            t.ResumeFrom(dirB.Path);
            t.Train();
        }
        Assert.Equal(Adapters(straight), Adapters(resumed));
    }

    [Theory]
    [InlineData(BaseQuantization.None)]
    [InlineData(BaseQuantization.Nf4)]
    public void BFloat16LoraTracksFloat32Lora(BaseQuantization quantization)
    {
        var data = TinyModels.PatternExamples(32, seed: 8);
        var options = Fast with { Epochs = 3, Lora = Fast.Lora! with { QuantizeBase = quantization } };
        using var fp32 = TinyModels.Create(seed: 3);
        using var bf16 = TinyModels.Create(seed: 3);
        TrainingResult a, b;
        using (var t = new NeftuneTrainer(fp32, data, data, options)) a = t.Train();
        using (var t = new NeftuneTrainer(bf16, data, data, options with { BFloat16 = true })) b = t.Train();
        Assert.All(LoraApi.AdapterParameters(bf16), p => Assert.Equal(ScalarType.Float32, p.Parameter.dtype));
        Assert.Contains(Adapters(bf16), x => x != 0);
        Assert.InRange(b.FinalValidationLoss!.Value, a.FinalValidationLoss!.Value - 0.15, a.FinalValidationLoss!.Value + 0.15);
        using var logits = LoraTestModels.Logits(bf16);                 // the master still computes after the bf16 copy is gone
        Assert.True(logits.isfinite().all().ToBoolean());
    }

    [Fact]
    public void InvalidLoraOptionsAreRejectedWithTheirName()
    {
        using var model = TinyModels.Create();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new NeftuneTrainer(model, TinyModels.PatternExamples(4), null, Fast with { Lora = new LoraOptions { Rank = 0 } }));
        Assert.Equal("Rank", e.ParamName);
    }
}
