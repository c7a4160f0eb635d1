using System.Buffers.Binary;
using Microsoft.ML.NEFTune.Experiments;

namespace Microsoft.ML.NEFTune.Tests.Cli;

public class PlotCommandTests
{
    internal static void WriteMetrics(string path, double start, int steps = 6, int evalEvery = 3)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var w = new StreamWriter(path);
        for (int s = 1; s <= steps; s++)
        {
            w.WriteLine($"{{\"step\":{s},\"epoch\":{s / 3.0:F4},\"train_loss\":{start - 0.1 * s:F4},\"learning_rate\":0.001,\"grad_norm\":1.0,\"tokens_per_second\":100}}");
            if (s % evalEvery == 0)
                w.WriteLine($"{{\"step\":{s},\"epoch\":{s / 3.0:F4},\"val_loss\":{start - 0.05 * s:F4},\"val_perplexity\":1,\"train_loss_noise_off\":{start - 0.12 * s:F4}}}");
        }
    }

    /// <summary>Width and height from a PNG's IHDR chunk, after checking the signature.</summary>
    internal static (int Width, int Height) PngSize(string path)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 5000, $"{path} is only {bytes.Length} bytes");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, bytes[..8]);
        return (BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
    }

    [Fact]
    public void PlotOverlaysSeveralRunsIntoAPng()
    {
        using var dir = new TempDirectory();
        WriteMetrics(dir["a/metrics.jsonl"], 3.0);
        WriteMetrics(dir["b/metrics.jsonl"], 2.5);

        var result = CliRunner.Run("plot", dir["a/metrics.jsonl"], dir["b"], "--out", dir["curves.png"], "--labels", "alpha 0,alpha 5", "--width", "800", "--height", "500");

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("plotted 2 runs", result.Out);
        Assert.Equal((800, 500), PngSize(dir["curves.png"]));
    }

    [Fact]
    public void PlotWritesSvgWithTheLegendLabels()
    {
        using var dir = new TempDirectory();
        WriteMetrics(dir["run/metrics.jsonl"], 3.0);
        WriteMetrics(dir["other/metrics.jsonl"], 2.0);

        var result = CliRunner.Run("plot", dir["run/metrics.jsonl"], dir["other/metrics.jsonl"], "--out", dir["curves.svg"]);

        Assert.True(result.ExitCode == 0, result.Error);
        var svg = File.ReadAllText(dir["curves.svg"]);
        foreach (var text in new[] { "run: train", "run: train, noise off", "other: validation", "optimizer step" })
            Assert.Contains(text, svg);
    }

    [Fact]
    public void LabelCountMustMatchTheFiles()
    {
        using var dir = new TempDirectory();
        WriteMetrics(dir["metrics.jsonl"], 3.0);

        var result = CliRunner.Run("plot", dir["metrics.jsonl"], "--out", dir["x.png"], "--labels", "a,b");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--labels", Assert.Single(result.ErrorLines));
        Assert.False(File.Exists(dir["x.png"]));
    }

    [Theory]
    [InlineData("missing")]
    [InlineData("empty")]
    [InlineData("garbage")]
    [InlineData("extension")]
    public void BadInputIsAUsageErrorNamingIt(string problem)
    {
        using var dir = new TempDirectory();
        var metrics = dir["metrics.jsonl"];
        var output = dir["out.png"];
        switch (problem)
        {
            case "empty": File.WriteAllText(metrics, "{\"step\":1,\"epoch\":0.1}\n"); break;
            case "garbage": File.WriteAllText(metrics, "{\"step\":1,\"train_loss\":2}\nnot json\n{\"step\":2,\"train_loss\":1}\n"); break;
            case "extension": WriteMetrics(metrics, 3.0); output = dir["out.gif"]; break;
        }

        var result = CliRunner.Run("plot", metrics, "--out", output);

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.Contains(problem == "extension" ? ".gif" : "metrics.jsonl", line);
        if (problem == "garbage") Assert.Contains("line 2", line);
    }

    [Fact]
    public void MetricsHistoryIgnoresATruncatedLastLineAndFindsTheBestStep()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir["m.jsonl"],
            "{\"step\":1,\"train_loss\":3}\n{\"step\":2,\"val_loss\":2.5,\"train_loss_noise_off\":2.4}\n{\"step\":4,\"val_loss\":2.7}\n{\"step\":5,\"train_lo");

        var history = MetricsHistory.Read(dir["m.jsonl"]);

        Assert.Equal(4, history.LastStep);
        Assert.Equal(2.7, history.FinalValidationLoss);
        Assert.Equal(2.5, history.BestValidationLoss);
        Assert.Equal(2L, history.BestStep);
        Assert.Equal(2.4, history.FinalTrainLossNoiseOff);
    }

    [Fact]
    public void MeanCurveAveragesTheStepsEveryRunHas()
    {
        var a = new[] { new MetricPoint(1, 1.0), new MetricPoint(2, 3.0), new MetricPoint(3, 5.0) };
        var b = new[] { new MetricPoint(1, 2.0), new MetricPoint(2, 4.0) };

        Assert.Equal(new[] { new MetricPoint(1, 1.5), new MetricPoint(2, 3.5) }, MetricsHistory.MeanCurve(new[] { a, b }));
    }
}
