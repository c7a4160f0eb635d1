using System.Text.Json.Nodes;

namespace Microsoft.ML.NEFTune.Tests.Cli;

public class CompareNoiseKindsTests
{
    [Fact]
    public void CompareRunsEachKindPerAlphaAndPlainFineTuningOnce()
    {
        using var dir = new TinyLlamaDirectory(records: 8);
        var output = dir["cmp"];
        var result = CliRunner.Run("compare", "--model", dir.ModelPath, "--data", dir.DataPath, "--val-split", "0.25", "--alphas", "0,5",
            "--noise-kinds", "uniform,gaussian", "--seeds", "1", "--max-steps", "1", "--batch-size", "4", "--lr", "1e-3", "--max-length", "48",
            "--generate", "0", "--quiet", "--out", output);
        Assert.True(result.ExitCode == 0, result.Error);
        foreach (var run in new[] { "alpha-0/seed-1", "uniform/alpha-5/seed-1", "gaussian/alpha-5/seed-1" })
            Assert.True(File.Exists(Path.Combine(output, run, "result.json")), run);
        Assert.Contains("| noise | alpha | runs |", result.Out);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "comparison.json")))!;
        Assert.Equal(new[] { "none", "uniform", "gaussian" }, json["rows"]!.AsArray().Select(r => r!["noise"]!.GetValue<string>()));
        // Same seed, same data order: the two kinds differ only in the noise, so their first noisy losses differ.
        var losses = json["runs"]!.AsArray().Where(r => r!["alpha"]!.GetValue<double>() == 5).Select(r => r!["final_train_loss"]!.GetValue<double>()).ToArray();
        Assert.NotEqual(losses[0], losses[1]);
    }

    [Fact]
    public void SymNoiseInTheKindListIsAUsageError()
    {
        var result = CliRunner.Run("compare", "--model", "m", "--data", "d", "--val-split", "0.25", "--alphas", "5", "--noise-kinds", "uniform,symnoise", "--out", "o");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--noise-kinds", result.Error);
        Assert.Contains("SymNoise", result.Error);
    }
}
