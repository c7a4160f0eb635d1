using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.Experiments;
using Microsoft.ML.NEFTune.Tests.Cli;
using Microsoft.ML.NEFTune.Tests.MLNet;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Tests.Training;

/// <summary>The three front doors (<c>neftune train</c>, the ML.NET estimator, <c>neftune compare</c>) share one data path and trainer.</summary>
public class FineTuningSeamTests
{
    private const int Records = 8, Seed = 7, Steps = 2;

    [Fact]
    public void TrainCommandEstimatorAndCompareGiveIdenticalLossesOnTheSameDataAndSeed()
    {
        using var dir = new TinyLlamaDirectory(records: Records);
        string[] shared = { "--model", dir.ModelPath, "--data", dir.DataPath, "--noise-alpha", "5", "--seed", $"{Seed}", "--max-steps", $"{Steps}",
            "--batch-size", "2", "--val-split", "0.25", "--max-length", "64", "--quiet" };

        var train = CliRunner.Run(new[] { "train", "--out", dir["train"] }.Concat(shared).ToArray());
        Assert.True(train.ExitCode == 0, train.Error);

        var compare = CliRunner.Run(new[] { "compare", "--alphas", "5", "--seeds", $"{Seed}", "--generate", "0", "--out", dir["compare"] }
            .Concat(shared.Where((a, i) => a is not ("--noise-alpha" or "--seed") && (i == 0 || shared[i - 1] is not ("--noise-alpha" or "--seed")))).ToArray());
        Assert.True(compare.ExitCode == 0, compare.Error);

        var ml = new MLContext(seed: 1);
        var options = new NeftuneInstructionTuningOptions
        {
            ModelPath = dir.ModelPath, InstructionColumnName = "Instruction", InputColumnName = "Input", ResponseColumnName = "Output",
            NoiseAlpha = 5, Seed = Seed, MaxSteps = Steps, BatchSize = 2, ValidationFraction = 0.25, MaxLength = 64, OutputDirectory = dir["mlnet"],
        };
        using (ml.Neftune().InstructionTuning(options).Fit(ml.Data.LoadFromEnumerable(MLNetTestData.Records(Records)))) { }

        var fromTrain = Losses(OutputLayout.MetricsPath(dir["train"]));
        var fromEstimator = Losses(OutputLayout.MetricsPath(dir["mlnet"]));
        var fromCompare = Losses(OutputLayout.MetricsPath(Path.Combine(dir["compare"], ComparisonRun.FolderName(5), $"seed-{Seed}")));

        Assert.Equal(Steps, fromTrain.Count(l => l.Key.StartsWith("train_loss@", StringComparison.Ordinal)));
        Assert.Contains(fromTrain, l => l.Key.StartsWith("val_loss@", StringComparison.Ordinal));
        Assert.Equal(fromTrain, fromEstimator);
        Assert.Equal(fromTrain, fromCompare);
    }

    /// <summary>Every training, validation and noise-off loss of a metrics file, keyed by name and step (timings left out).</summary>
    private static Dictionary<string, double> Losses(string metricsPath)
    {
        var losses = new Dictionary<string, double>();
        foreach (var line in File.ReadAllLines(metricsPath))
        {
            var o = JsonNode.Parse(line)!.AsObject();
            foreach (var name in new[] { "train_loss", "val_loss", "train_loss_noise_off" })
                if (o[name] is JsonValue v) losses[$"{name}@{o["step"]}"] = v.GetValue<double>();
        }
        return losses;
    }
}
