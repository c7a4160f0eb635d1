using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.Cli;

public class TrainCommandTests
{
    private static string[] TrainArgs(TinyLlamaDirectory dir, string output, params string[] extra) => new[]
    {
        "train", "--model", dir.ModelPath, "--data", dir.DataPath, "--val-split", "0.25", "--noise-alpha", "5", "--max-steps", "8",
        "--batch-size", "4", "--lr", "1e-3", "--max-length", "96", "--eval-steps", "4", "--save-steps", "2", "--seed", "3", "--out", output,
    }.Concat(extra).ToArray();

    private static float[] Weights(string modelDir)
    {
        var file = SafetensorsFile.Open(Path.Combine(modelDir, "model.safetensors"));
        return file.Entries.Keys.OrderBy(k => k).SelectMany(k => { using var t = file.Read(k); return t.data<float>().ToArray(); }).ToArray();
    }

    [Fact]
    public void TrainWritesTheModelMetricsAndCheckpoints()
    {
        using var dir = new TinyLlamaDirectory();
        var result = CliRunner.Run(TrainArgs(dir, dir["out"]));
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("done after 8 steps", result.Out);
        foreach (var file in new[] { "config.json", "model.safetensors", "tokenizer.model", "metrics.jsonl", "best-model/model.safetensors" })
            Assert.True(File.Exists(Path.Combine(dir["out"], file)), file);
        var lines = MetricsLog.Read(Path.Combine(dir["out"], "metrics.jsonl"));
        Assert.Equal(8, lines.Count(l => l["train_loss"] is not null));
        Assert.Equal(2, lines.Count(l => l["val_loss"] is not null));
        Assert.Equal(new[] { 6L, 8L }, CheckpointStore.List(dir["out"]).Select(c => c.Step));   // --save-total-limit 2
    }

    [Fact]
    public void CrashedRunResumesToBitIdenticalWeights()
    {
        using var dir = new TinyLlamaDirectory();
        Assert.Equal(0, CliRunner.Run(TrainArgs(dir, dir["straight"])).ExitCode);

        // The run crashes right after step 5 (a planned fault: nothing after the step runs, no cleanup); checkpoint-4 is complete.
        CliRunner.Result crashed;
        using (FaultInjection.Use(new FaultInjection("crash-after-step", 5))) crashed = CliRunner.Run(TrainArgs(dir, dir["killed"]));
        Assert.Equal(1, crashed.ExitCode);
        Assert.Contains("simulated crash after step 5", crashed.Error);
        Assert.False(File.Exists(Path.Combine(dir["killed"], "model.safetensors")));   // the final model was never written
        Assert.Contains(4L, CheckpointStore.List(dir["killed"]).Select(c => c.Step));

        var resumed = CliRunner.Run(TrainArgs(dir, dir["killed"], "--resume", dir["killed"]));
        Assert.True(resumed.ExitCode == 0, resumed.Error);
        Assert.Equal(Weights(dir["straight"]), Weights(dir["killed"]));
    }

    [Fact]
    public void MissingDataFileIsAUsageErrorNamingIt()
    {
        using var dir = new TinyLlamaDirectory(records: 4);
        var result = CliRunner.Run("train", "--model", dir.ModelPath, "--data", dir["nope.json"], "--noise-alpha", "5", "--out", dir["out"]);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("nope.json", Assert.Single(result.ErrorLines));
    }

    [Fact]
    public void UnknownNoiseScalingIsAUsageError()
    {
        var result = CliRunner.Run("train", "--model", "m", "--data", "d", "--noise-alpha", "5", "--noise-scaling", "sideways", "--out", "o");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("sideways", result.Error);
    }

    [Fact]
    public void EvalReportsLossPerplexityAndDiversity()
    {
        using var dir = new TinyLlamaDirectory(records: 6);
        var result = CliRunner.Run("eval", "--model", dir.ModelPath, "--data", dir.DataPath, "--max-length", "96", "--generate", "2", "--max-new-tokens", "8", "--json");
        Assert.True(result.ExitCode == 0, result.Error);
        var json = System.Text.Json.Nodes.JsonNode.Parse(result.Out)!;
        double loss = json["loss"]!.GetValue<double>();
        Assert.InRange(loss, Math.Log(32000) - 1, Math.Log(32000) + 1);   // an untrained model is near-uniform
        Assert.Equal(Math.Exp(loss), json["perplexity"]!.GetValue<double>(), 6);
        Assert.Equal(2, json["responses"]!.GetValue<int>());
    }
}
