using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.Experiments;

namespace Microsoft.ML.NEFTune.Tests.Cli;

public class CompareCommandTests
{
    private static string[] CompareArgs(TinyLlamaDirectory dir, string output, params string[] extra) => new[]
    {
        "compare", "--model", dir.ModelPath, "--data", dir.DataPath, "--val-split", "0.25", "--alphas", "0,5", "--seeds", "1,2", "--max-steps", "2",
        "--batch-size", "4", "--lr", "1e-3", "--max-length", "48", "--generate", "2", "--max-new-tokens", "4", "--quiet", "--out", output,
    }.Concat(extra).ToArray();

    [Fact]
    public void CompareRunsEveryAlphaAndSeedThenWritesTablesAndPlotAndSkipsFinishedRunsWhenRunAgain()
    {
        using var dir = new TinyLlamaDirectory(records: 8);
        var output = dir["cmp"];

        var first = CliRunner.Run(CompareArgs(dir, output));

        Assert.True(first.ExitCode == 0, first.Error);
        Assert.Equal("", first.Error);
        foreach (var run in new[] { "alpha-0/seed-1", "alpha-5/seed-1", "alpha-0/seed-2", "alpha-5/seed-2" })
        {
            Assert.True(File.Exists(Path.Combine(output, run, "result.json")), run);
            Assert.True(File.Exists(Path.Combine(output, run, "model.safetensors")), run);
            Assert.Empty(Directory.GetDirectories(Path.Combine(output, run), "checkpoint-*"));
        }
        Assert.Contains("[4/4] alpha 5, seed 2: done in", first.Out);
        Assert.Contains("| alpha | runs | final val loss |", first.Out);

        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "comparison.json")))!;
        Assert.True(json["complete"]!.GetValue<bool>());
        var rows = json["rows"]!.AsArray();
        Assert.Equal(new[] { 0.0, 5.0 }, rows.Select(r => r!["alpha"]!.GetValue<double>()));
        foreach (var row in rows)
        {
            Assert.Equal(2, row!["runs"]!.GetValue<int>());
            var values = json["runs"]!.AsArray().Where(r => r!["alpha"]!.GetValue<double>() == row["alpha"]!.GetValue<double>())
                .Select(r => r!["final_validation_loss"]!.GetValue<double>()).ToArray();
            var stat = row["final_val_loss"]!;
            Assert.Equal(values.Average(), stat["mean"]!.GetValue<double>(), 9);
            Assert.Equal(Math.Abs(values[0] - values[1]) / Math.Sqrt(2), stat["std"]!.GetValue<double>(), 9);
            // The mean over seeds of each run's mean response length, recomputed from the responses the runs wrote.
            double alpha = row["alpha"]!.GetValue<double>();
            double chars = new[] { 1, 2 }.Average(seed => File.ReadLines(Path.Combine(output, $"alpha-{alpha:0.###}", $"seed-{seed}", "responses.jsonl"))
                .Average(l => JsonNode.Parse(l)!["response"]!.GetValue<string>().Length));
            Assert.Equal(chars, row["avg_response_chars"]!["mean"]!.GetValue<double>(), 6);
        }
        Assert.Contains(" ± ", File.ReadAllText(Path.Combine(output, "comparison.md")));
        Assert.Equal((1200, 700), PlotCommandTests.PngSize(Path.Combine(output, "comparison.png")));

        // A run whose result was lost is measured again without training; the others are left alone.
        var metrics = File.ReadAllText(Path.Combine(output, "alpha-5/seed-1/metrics.jsonl"));
        File.Delete(Path.Combine(output, "alpha-5/seed-1/result.json"));
        var second = CliRunner.Run(CompareArgs(dir, output));

        Assert.True(second.ExitCode == 0, second.Error);
        Assert.Contains("[2/4] alpha 5, seed 1: trained earlier; generating responses", second.Out);
        Assert.Equal(3, second.Out.Split('\n').Count(l => l.Contains(": done earlier:")));
        Assert.DoesNotContain(": training", second.Out);
        Assert.Equal(metrics, File.ReadAllText(Path.Combine(output, "alpha-5/seed-1/metrics.jsonl")));
        Assert.True(File.Exists(Path.Combine(output, "alpha-5/seed-1/result.json")));

        // Other training settings in the same folder are refused.
        var changed = CliRunner.Run(CompareArgs(dir, output, "--weight-decay", "0.1"));
        Assert.Equal(2, changed.ExitCode);
        Assert.Contains("weight_decay", Assert.Single(changed.ErrorLines));
    }

    [Fact]
    public void CompareWithoutValidationDataIsAUsageError()
    {
        var result = CliRunner.Run("compare", "--model", "m", "--data", "d", "--alphas", "0,5", "--out", "o");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--val-data", Assert.Single(result.ErrorLines));
    }

    [Theory]
    [InlineData("--alphas", "0,x", "'x'")]
    [InlineData("--alphas", "-1", "'-1'")]
    [InlineData("--seeds", "1,1.5", "'1.5'")]
    [InlineData("--alphas", "5,5", "twice")]
    public void MalformedListsAreUsageErrors(string option, string value, string named)
    {
        using var dir = new TinyLlamaDirectory(records: 4);
        var args = new List<string> { "compare", "--model", dir.ModelPath, "--data", dir.DataPath, "--val-split", "0.5", "--out", dir["o"] };
        if (option != "--alphas") args.AddRange(new[] { "--alphas", "0" });
        args.AddRange(new[] { option, value });

        var result = CliRunner.Run(args.ToArray());

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(named, Assert.Single(result.ErrorLines));
        Assert.False(Directory.Exists(dir["o"]));
    }

    [Fact]
    public void SummaryGivesMeanAndSampleStandardDeviationPerAlpha()
    {
        var options = new ComparisonOptions
        {
            Request = new Microsoft.ML.NEFTune.Training.FineTuningRequest { ModelPath = "m", DataPath = "d", Training = new() { ValidationFraction = 0.1 } },
            Alphas = new[] { 0.0, 5.0 }, Seeds = new long[] { 1, 2, 3 }, OutputDirectory = "o",
        };
        var results = new[] { 1.0, 2.0, 3.0 }.Select((v, i) => new ComparisonRunResult { Alpha = 5, Seed = i + 1, FinalValidationLoss = v, AverageResponseWords = 10 * v })
            .Append(new ComparisonRunResult { Alpha = 0, Seed = 1, FinalValidationLoss = 4 })
            .Append(new ComparisonRunResult { Alpha = 0, Seed = 2, Status = ComparisonRunResult.Diverged })
            .ToList();

        var summary = new ComparisonSummary(options, results);

        var five = summary.Rows.Single(r => r.Alpha == 5);
        Assert.Equal(new MeanStd(2, 1, 3), five.FinalValidationLoss);
        Assert.Equal(20, five.ResponseWords!.Value.Mean, 9);
        var zero = summary.Rows.Single(r => r.Alpha == 0);
        Assert.Equal((1, 1), (zero.Runs, zero.Diverged));
        Assert.Null(zero.FinalValidationLoss!.Value.Std);
        Assert.False(summary.Complete);
        var markdown = summary.ToMarkdown();
        Assert.Contains("| 5 | 3 | 2.0000 ± 1.0000 |", markdown);
        Assert.Contains("| 0 | 1 (1 diverged) | 4.0000 |", markdown);
        Assert.Contains("5 of 6 runs done (incomplete", markdown);
    }

    [Fact]
    public void TheSummaryDescribesTheDecodingOfTheRequestsGenerationOptions()
    {
        var options = new ComparisonOptions
        {
            Request = new Microsoft.ML.NEFTune.Training.FineTuningRequest
            {
                ModelPath = "m", DataPath = "d",
                Training = new() { ValidationFraction = 0.1, Generation = new() { MaxNewTokens = 17, RepetitionPenalty = 1.3 } },
            },
            Alphas = new[] { 5.0 }, Seeds = new long[] { 1 }, OutputDirectory = "o", GenerateCount = 4,
        };

        var summary = new ComparisonSummary(options, new[] { new ComparisonRunResult { Alpha = 5, Seed = 1, FinalValidationLoss = 1 } });

        Assert.Contains("with greedy decoding, repetition penalty 1.3, at most 17 new tokens", summary.ToMarkdown());
        var generation = System.Text.Json.Nodes.JsonNode.Parse(summary.ToJson())!["generation"]!;
        Assert.Equal(17, generation["max_new_tokens"]!.GetValue<int>());
        Assert.Equal(1.3, generation["repetition_penalty"]!.GetValue<double>());
    }
}
