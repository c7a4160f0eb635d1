using Microsoft.Extensions.AI;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Generation;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Training;
using TorchSharp;

namespace Microsoft.ML.NEFTune.Tests.MLNet;

/// <summary>Device names, MLContext GPU settings, and what a fit reports. This machine (and CI) has no CUDA.</summary>
public sealed class DeviceTests : IDisposable
{
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    [Theory]
    [InlineData("cpu", "cpu")]
    [InlineData(" CPU ", "cpu")]
    [InlineData("cuda", "cuda")]
    [InlineData("Cuda:1", "cuda:1")]
    [InlineData("cuda:007", "cuda:7")]
    public void DeviceNamesAreCanonical(string name, string canonical) => Assert.Equal(canonical, ComputeDevice.Parse(name));

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:x")]
    [InlineData("mps")]
    [InlineData("")]
    public void OtherDeviceNamesAreRefused(string name)
    {
        var e = Assert.Throws<ArgumentException>(() => ComputeDevice.Parse(name, "Options.Device"));
        Assert.Contains($"Options.Device '{name}' is not a device: use cpu, cuda or cuda:N", e.Message);
    }

    [Fact]
    public void CudaWithoutABackendIsAnErrorUnlessFallingBackIsAllowed()
    {
        var e = Assert.Throws<InvalidOperationException>(() => ComputeDevice.Require("cuda", false, "Device", () => 0, out _));
        Assert.Contains("CUDA is not available", e.Message);
        Assert.Contains("TorchSharp-cuda-linux", e.Message);

        Assert.Equal("cpu", ComputeDevice.Require("cuda:0", true, "Device", () => 0, out var warning));
        Assert.Contains("running on the CPU instead", warning);
    }

    [Fact]
    public void AGpuIndexBeyondTheGpusIsRefused()
    {
        Assert.Equal("cuda:1", ComputeDevice.Require("cuda:1", false, "Device", () => 2, out var none));
        Assert.Null(none);
        var e = Assert.Throws<InvalidOperationException>(() => ComputeDevice.Require("cuda:2", false, "Device", () => 2, out _));
        Assert.Contains("asks for GPU 2, but CUDA sees only 2 GPUs", e.Message);
    }

    [Fact]
    public void TheContextGpuIdChoosesCuda()
    {
        var ml = new MLContext { GpuDeviceId = 1, FallbackToCpu = false };

        Assert.Equal("cuda:1", MLContextDevice.Resolve(ml, null, null, () => 2));
        Assert.Equal("cpu", MLContextDevice.Resolve(ml, "cpu", null, () => 2));
        Assert.Equal("cpu", MLContextDevice.Resolve(new MLContext { FallbackToCpu = false }, null, null, () => 0));
    }

    [Fact]
    public void FitWithAGpuIdAndNoCudaFailsBeforeTraining()
    {
        if (TorchSharp.torch.cuda.is_available()) return;   // the CPU-only behaviour does not apply on a CUDA machine
        var ml = new MLContext(seed: 1) { GpuDeviceId = 0, FallbackToCpu = false };
        var options = MLNetTestData.FastOptions(temp["no-model-needed"]);
        var data = ml.Data.LoadFromEnumerable(MLNetTestData.Records(2));

        var e = Assert.Throws<InvalidOperationException>(() => ml.Neftune().InstructionTuning(options).Fit(data));

        Assert.StartsWith("MLContext.GpuDeviceId 'cuda:0' asks for CUDA, but CUDA is not available", e.Message);
        Assert.Contains("MLContext.FallbackToCpu = true", e.Message);
    }

    [Fact]
    public void AnInvalidDeviceOptionIsRefusedWhenTheEstimatorIsMade()
    {
        var options = MLNetTestData.FastOptions("model");
        options.Device = "gpu0";

        var e = Assert.Throws<ArgumentException>(() => new MLContext().Neftune().InstructionTuning(options));

        Assert.Contains("NeftuneInstructionTuningOptions.Device 'gpu0' is not a device", e.Message);
    }

    [Fact]
    public async Task AFallingBackFitTrainsOnTheCpuReportsProgressAndChats()
    {
        if (TorchSharp.torch.cuda.is_available()) return;   // the CPU-only behaviour does not apply on a CUDA machine
        var model = MLNetTestData.CreateTinyModel(temp["model"], seed: 5);
        var ml = new MLContext(seed: 1) { GpuDeviceId = 0, FallbackToCpu = true };
        var log = new List<string>();
        ml.Log += (_, e) => { lock (log) log.Add(e.Message); };
        var reports = new List<TrainingProgress>();
        var options = MLNetTestData.FastOptions(model);
        options.MaxSteps = 2;
        options.LoggingSteps = 1;
        options.Progress = new ListProgress(reports);

        using var tuned = ml.Neftune().InstructionTuning(options).Fit(ml.Data.LoadFromEnumerable(MLNetTestData.Records(8)));

        Assert.Equal(DeviceType.CPU, tuned.Model.Model.EmbeddingWeight.device_type);
        lock (log)
        {
            Assert.Contains(log, m => m.Contains("MLContext.GpuDeviceId 'cuda:0' asks for CUDA", StringComparison.Ordinal) && m.Contains("running on the CPU instead", StringComparison.Ordinal));
            Assert.Contains(log, m => m.Contains("step 2/2", StringComparison.Ordinal) && m.Contains("eta", StringComparison.Ordinal));
        }
        Assert.Equal(new long[] { 1, 2 }, reports.Where(r => !r.IsEvaluation).Select(r => r.Step));
        Assert.All(reports.Where(r => !r.IsEvaluation), r => Assert.True(r.TrainLoss > 0));

        // The transformer's chat client answers with the transformer's template and decoding settings.
        using var chat = tuned.AsChatClient();
        var answer = await chat.GetResponseAsync("Name a colour.");
        var template = PromptTemplate.Get(tuned.PromptTemplate);
        var expected = new TextGenerator(tuned.Model, Microsoft.ML.NEFTune.IO.Tokenizers.TextTokenizer.Load(model))
            .Generate(tuned.RenderPrompt("Name a colour.", null), tuned.GenerationOptions with { StopStrings = template.EndOfTurnStrings.ToArray() }).Trim();
        Assert.Equal(expected, answer.Text);
        Assert.Same(tuned.Model, chat.GetService<Microsoft.ML.NEFTune.Modeling.LlamaForCausalLM>());

        // Loading follows the context too.
        var saved = temp["saved"];
        tuned.SaveModel(saved);
        var strict = new MLContext { GpuDeviceId = 0, FallbackToCpu = false };
        Assert.Throws<InvalidOperationException>(() => NeftuneModel.LoadTransformer(strict, saved));
        using var loaded = NeftuneModel.LoadTransformer(new MLContext { GpuDeviceId = 0, FallbackToCpu = true }, saved);
        Assert.Equal(DeviceType.CPU, loaded.Model.Model.EmbeddingWeight.device_type);
    }

    private sealed class ListProgress(List<TrainingProgress> reports) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => reports.Add(value);
    }
}
