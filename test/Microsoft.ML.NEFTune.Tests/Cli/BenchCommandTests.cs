using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.Tests.Training;
using Microsoft.ML.NEFTune.IO;

namespace Microsoft.ML.NEFTune.Tests.Cli;

/// <summary>
/// <c>neftune bench --quick</c> runs end to end (its figures are not judged here: speed is shown by the benchmark,
/// not by tests). Runs alone, beside the memory tests, because it reads the process's working set.
/// </summary>
[Collection(nameof(MemoryTests))]
public class BenchCommandTests
{
    private static readonly string[] RequiredFigures =
    {
        "matmul_fp32_gflops", "matmul_bf16_gflops", "copy_gbps", "train_tokens_per_s", "train_tokens_per_s_bf16",
        "mfu_fp32", "neftune_overhead", "decode_tokens_per_s", "decode_bandwidth_fraction", "peak_working_set_mb",
    };

    [Fact]
    public void ScaleOnlyWithoutAScaleIsAUsageError()
    {
        var result = CliRunner.Run("bench", "--scale-only");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--scale 1b", result.Error);
        Assert.Equal(2, CliRunner.Run("bench", "--scale", "7b").ExitCode);
    }

    [Fact]
    public void TheScaleSectionsFiguresSurviveTheTripFromItsOwnProcess()
    {
        var written = new Microsoft.ML.NEFTune.Benchmarks.ScaleBenchmarkResult
        {
            Shape = "TinyLlama-1.1B", Directory = "/tmp/x", Parameters = 1_100_048_384, FileBytes = 2_200_119_648, LoadDType = "BFloat16",
            LoadSeconds = 11.9, LoadPeakRssMb = 2705.5, LoadModelMb = 2200.1, Fp32Gflops = 157.7, CopyGbps = 40.33, DecodeTokensPerSecond = 11.91,
            DecodeBytesPerToken = 2_069_024_768, QloraTokensPerStep = 256, QloraStepSeconds = 11.85, QloraCheckpointedStepSeconds = 15.05,
            QloraBf16StepSeconds = 4.637, QloraPeakRssMb = 3303.3, QloraStoredMb = 1078.7, ElapsedSeconds = 200.4,
        }.ToJson();
        var read = Microsoft.ML.NEFTune.Benchmarks.ScaleBenchmarkResult.FromJson((JsonObject)JsonNode.Parse(written.ToJsonString())!);
        Assert.Equal(written.ToJsonString(), read.ToJson().ToJsonString());
    }

    [Fact]
    public void QuickJsonRunReportsEveryRequiredFigureConsistently()
    {
        var result = CliRunner.Run("bench", "--quick", "--json", "--vs-pytorch", "--python", "/nonexistent/python3");

        Assert.True(result.ExitCode == 0, result.Error);
        var json = JsonNode.Parse(result.Out)!.AsObject();
        foreach (var key in RequiredFigures)
        {
            double value = json[key]!.GetValue<double>();
            Assert.True(double.IsFinite(value) && value > 0, $"{key} = {value}");
        }
        Assert.Equal(CpuFeatures.FastBFloat16, json["cpu_fast_bf16"]!.GetValue<bool>());
        Assert.NotNull(json["cpu_bf16_flags"]);
        Assert.True(json["quick"]!.GetValue<bool>());
        double tokens = json["train_tokens_per_s"]!.GetValue<double>(), peak = json["matmul_fp32_gflops"]!.GetValue<double>();
        double mfu = 6.0 * json["params"]!.GetValue<long>() * tokens / (peak * 1e9);
        Assert.Equal(mfu, json["mfu_fp32"]!.GetValue<double>(), 0.01 * mfu + 1e-3);      // both inputs are rounded in the JSON
        double noiseMs = json["neftune_noise_ms"]!.GetValue<double>();
        Assert.True(noiseMs > 0, $"neftune_noise_ms = {noiseMs}");
        double stepMs = 1e3 * json["batch"]!.GetValue<int>() * json["seq"]!.GetValue<int>() / tokens;
        Assert.Equal(1 + noiseMs / stepMs, json["neftune_overhead_direct"]!.GetValue<double>(), 1e-3);
        Assert.Equal(0, json["train_live_tensor_growth"]!.GetValue<long>());
        Assert.False(json["pytorch"]!["available"]!.GetValue<bool>());
        Assert.Contains("/nonexistent/python3", json["pytorch"]!["reason"]!.GetValue<string>());
    }
}
