using System.Text.RegularExpressions;

namespace Microsoft.ML.NEFTune.Tests.Cli;

public class NewCommandsTests
{
    [Theory]
    [InlineData("plot", "--out", "--labels", "--title", "--width", "--height")]
    [InlineData("compare", "--model", "--data", "--alphas", "--seeds", "--val-split", "--val-data", "--generate", "--max-new-tokens", "--diversity-prefix-words", "--keep-checkpoints", "--lr", "--out", "--quiet")]
    [InlineData("download", "--revision", "--include", "--exclude", "--out", "--endpoint", "--cache", "--repo-type", "--retries", "--quiet")]
    [InlineData("chat", "--model", "--tokenizer", "--template", "--system", "--history", "--max-new-tokens", "--temperature", "--top-k", "--top-p", "--repetition-penalty", "--seed", "--json")]
    [InlineData("train", "--plot", "--quiet")]
    public void HelpDescribesEveryOption(string command, params string[] options)
    {
        var result = CliRunner.Run(command, "--help");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("", result.Error);
        foreach (var option in options)
            Assert.Matches(new Regex($@"(?m)^\s+(-\w, )?{option}\b(?!-)( <[^>]+>)?( \(REQUIRED\))?\s+\S+ \S+"), result.Out);
    }

    [Fact]
    public void CompareDoesNotOfferPerRunOptions()
    {
        var result = CliRunner.Run("compare", "--help");

        foreach (var option in new[] { "--noise-alpha", "--resume", "--metrics", "--plot", "--sample-prompts" })
            Assert.DoesNotMatch(new Regex($@"(?m)^\s+{option}\b"), result.Out);
    }

    [Fact]
    public void RootHelpListsTheNewCommands()
    {
        var result = CliRunner.Run("--help");

        foreach (var command in new[] { "plot", "compare", "download", "chat" })
            Assert.Matches(new Regex($@"(?m)^\s+{command}\b"), result.Out);
    }

    [Fact]
    public void TrainWithPlotDrawsTheLossCurvesOfTheRun()
    {
        using var dir = new TinyLlamaDirectory(records: 8);
        var result = CliRunner.Run("train", "--model", dir.ModelPath, "--data", dir.DataPath, "--val-split", "0.25", "--noise-alpha", "5", "--max-steps", "2",
            "--batch-size", "4", "--max-length", "48", "--eval-steps", "1", "--out", dir["out"], "--plot", dir["loss.png"]);

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("loss curves in", result.Out);
        Assert.Equal((1200, 700), PlotCommandTests.PngSize(dir["loss.png"]));
    }

    [Fact]
    public void TrainWithAnUnsupportedPlotTypeFailsBeforeTraining()
    {
        using var dir = new TinyLlamaDirectory(records: 4);
        var result = CliRunner.Run("train", "--model", dir.ModelPath, "--data", dir.DataPath, "--noise-alpha", "5", "--out", dir["out"], "--plot", dir["loss.bmp"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--plot", Assert.Single(result.ErrorLines));
        Assert.False(Directory.Exists(dir["out"]));
    }
}
