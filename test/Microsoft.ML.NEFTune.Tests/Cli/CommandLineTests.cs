using System.Text.RegularExpressions;

namespace Microsoft.ML.NEFTune.Tests.Cli;

public class CommandLineTests
{
    [Fact]
    public void UnknownOptionIsAUsageError()
    {
        var result = CliRunner.Run("generate", "--model", Fixtures.StoriesBin, "--prompt-ids", "1", "--no-such-option");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--no-such-option", Assert.Single(result.ErrorLines));
    }

    [Fact]
    public void UnknownCommandIsAUsageError()
    {
        var result = CliRunner.Run("no-such-command");

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("neftune: error: ", Assert.Single(result.ErrorLines));
    }

    [Fact]
    public void MissingCommandIsAUsageError() => Assert.Equal(2, CliRunner.Run().ExitCode);

    [Fact]
    public void MissingRequiredOptionIsAUsageErrorNamingIt()
    {
        var result = CliRunner.Run("generate", "--prompt-ids", "1");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--model", Assert.Single(result.ErrorLines));
    }

    [Fact]
    public void RootHelpListsTheCommands()
    {
        var result = CliRunner.Run("--help");

        Assert.Equal(0, result.ExitCode);
        foreach (var command in new[] { "generate", "tokenize", "init", "--verbose" })
            Assert.Contains(command, result.Out);
    }

    [Theory]
    [InlineData("generate", "--model", "--prompt", "--prompt-ids", "--tokenizer", "--max-new-tokens", "--temperature", "--top-k", "--top-p", "--repetition-penalty", "--seed", "--no-cache", "--json")]
    [InlineData("tokenize", "--tokenizer", "--json")]
    [InlineData("init", "--tokenizer", "--hidden-size", "--layers", "--heads", "--kv-heads", "--intermediate-size", "--max-position-embeddings", "--tie-embeddings", "--seed", "--out")]
    public void CommandHelpListsEveryOptionWithADescription(string command, params string[] options)
    {
        var result = CliRunner.Run(command, "--help");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("", result.Error);
        Assert.Contains($"neftune {command} [options]", result.Out);
        foreach (var option in options)
            Assert.Matches(new Regex($@"(?m)^\s+(-\w, )?{option}\b(?!-)( <\w+>)?( \(REQUIRED\))?\s+\w+ \w+"), result.Out);
    }
}
