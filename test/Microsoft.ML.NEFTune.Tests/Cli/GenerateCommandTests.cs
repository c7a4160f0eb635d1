using System.Text.Json;

namespace Microsoft.ML.NEFTune.Tests.Cli;

public class GenerateCommandTests
{
    private static readonly ReferenceOutputs Reference = ReferenceOutputs.Load();

    public static TheoryData<string> Models => new() { Fixtures.StoriesBin, Fixtures.StoriesHf };

    [Theory]
    [MemberData(nameof(Models))]
    public void PromptIdsJsonReproducesGreedyReference(string model)
    {
        var result = CliRunner.Run("generate", "--model", model, "--prompt-ids", "1", "--max-new-tokens", "64", "--json");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("", result.Error);
        using var json = JsonDocument.Parse(result.Out);
        Assert.Equal(Reference.GreedyFromBos, json.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt64()).ToArray());
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("text").ValueKind);
    }

    [Fact]
    public void WithoutTokenizerPrintsIdsSeparatedBySpaces()
    {
        var result = CliRunner.Run("generate", "--model", Fixtures.StoriesBin, "--prompt-ids", "1", "--max-new-tokens", "5");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(string.Join(' ', Reference.GreedyFromBos.Take(5)), result.Out.Trim());
    }

    [Fact]
    public void CachedAndUncachedDecodingAgree()
    {
        var cached = CliRunner.Run("generate", "-m", Fixtures.StoriesHf, "--prompt-ids", "1,461,461", "-n", "12", "--repetition-penalty", "1.2");
        var uncached = CliRunner.Run("generate", "-m", Fixtures.StoriesHf, "--prompt-ids", "1,461,461", "-n", "12", "--repetition-penalty", "1.2", "--no-cache");

        Assert.Equal(0, cached.ExitCode);
        Assert.Equal(cached.Out, uncached.Out);
    }

    [Fact]
    public void SeededSamplingIsReproducible()
    {
        string[] args = { "generate", "-m", Fixtures.StoriesBin, "--prompt-ids", "1", "-n", "20", "--temperature", "1", "--top-k", "50", "--top-p", "0.9", "--seed", "7" };

        var first = CliRunner.Run(args);
        var second = CliRunner.Run(args);

        Assert.Equal(0, first.ExitCode);
        Assert.Equal(first.Out, second.Out);
    }

    [Fact]
    public void MissingModelIsAUsageErrorOnOneLineNamingThePath()
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-such-model-" + Guid.NewGuid().ToString("N"));

        var result = CliRunner.Run("generate", "--model", missing, "--prompt-ids", "1");

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("neftune: error: ", line);
        Assert.Contains(missing, line);
        Assert.DoesNotContain(" at ", result.Error);
    }

    [Fact]
    public void VerbosePrintsTheStackTrace()
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-such-model-" + Guid.NewGuid().ToString("N"));

        var result = CliRunner.Run("--verbose", "generate", "--model", missing, "--prompt-ids", "1");

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("neftune: error: ", result.ErrorLines[0]);
        Assert.Contains(result.ErrorLines, l => l.StartsWith("at "));
    }

    [Fact]
    public void PromptTextWithoutTokenizerIsAUsageError()
    {
        var result = CliRunner.Run("generate", "--model", Fixtures.StoriesBin, "--prompt", "Once upon a time");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("tokenizer", Assert.Single(result.ErrorLines));
    }

    [Fact]
    public void PromptAndPromptIdsTogetherAreAUsageError()
    {
        var result = CliRunner.Run("generate", "--model", Fixtures.StoriesBin, "--prompt", "x", "--prompt-ids", "1");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--prompt-ids", Assert.Single(result.ErrorLines));
    }

    [Theory]
    [InlineData("1,x")]
    [InlineData("1,512")]
    [InlineData("-3")]
    public void InvalidPromptIdsAreAUsageError(string ids)
    {
        var result = CliRunner.Run("generate", "--model", Fixtures.StoriesBin, "--prompt-ids=" + ids);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--prompt-ids", Assert.Single(result.ErrorLines));
    }

    [Theory]
    [InlineData("--top-p", "1.5")]
    [InlineData("--top-k", "-1")]
    [InlineData("--temperature", "-0.5")]
    [InlineData("--repetition-penalty", "0")]
    [InlineData("--max-new-tokens", "-2")]
    public void OutOfRangeNumbersAreAUsageErrorNamingTheOption(string option, string value)
    {
        var result = CliRunner.Run("generate", "--model", Fixtures.StoriesBin, "--prompt-ids", "1", option, value);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(option, Assert.Single(result.ErrorLines));
    }

    [Fact]
    public void InvalidModelFileIsAUsageError()
    {
        using var temp = new TempDirectory();
        File.WriteAllBytes(temp["broken.bin"], new byte[] { 1, 2, 3 });

        var result = CliRunner.Run("generate", "--model", temp["broken.bin"], "--prompt-ids", "1");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(temp["broken.bin"], Assert.Single(result.ErrorLines));
    }
}
