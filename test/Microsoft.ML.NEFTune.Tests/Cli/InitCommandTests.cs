using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.Cli.Commands;

namespace Microsoft.ML.NEFTune.Tests.Cli;

public class InitCommandTests
{
    private static string[] SmallModel(string outDir) =>
        new[] { "init", "--tokenizer", Fixtures.LlamaTokenizer, "--hidden-size", "64", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--seed", "3", "--out", outDir };

    [Fact]
    public void InitialisedModelCanGenerate()
    {
        using var temp = new TempDirectory();
        var dir = temp["model"];

        var init = CliRunner.Run(SmallModel(dir));
        Assert.Equal(0, init.ExitCode);
        Assert.Contains(Path.GetFullPath(dir), Assert.Single(init.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries)));

        var generate = CliRunner.Run("generate", "--model", dir, "--prompt", "Once upon a time", "--max-new-tokens", "8", "--json");
        Assert.Equal(0, generate.ExitCode);
        using var json = JsonDocument.Parse(generate.Out);
        var ids = json.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.NotEmpty(ids);
        Assert.All(ids, id => Assert.InRange(id, 0, 31999));
        Assert.Equal(JsonValueKind.String, json.RootElement.GetProperty("text").ValueKind);
    }

    [Fact]
    public void OutputDirectoryIsSelfContainedWithTheTokenizersSpecialIds()
    {
        using var temp = new TempDirectory();
        var dir = temp["model"];

        Assert.Equal(0, CliRunner.Run(SmallModel(dir)).ExitCode);

        Assert.Equal(File.ReadAllBytes(Fixtures.LlamaTokenizer), File.ReadAllBytes(Path.Combine(dir, "tokenizer.model")));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!;
        Assert.Equal(32000, config["vocab_size"]!.GetValue<int>());
        Assert.Equal(1, config["bos_token_id"]!.GetValue<int>());
        Assert.Equal(2, config["eos_token_id"]!.GetValue<int>());
        Assert.Equal(2, config["num_key_value_heads"]!.GetValue<int>());
        Assert.Equal(192, config["intermediate_size"]!.GetValue<int>());
    }

    [Fact]
    public void SameSeedGivesTheSameWeights()
    {
        using var temp = new TempDirectory();

        Assert.Equal(0, CliRunner.Run(SmallModel(temp["a"])).ExitCode);
        Assert.Equal(0, CliRunner.Run(SmallModel(temp["b"])).ExitCode);

        Assert.Equal(File.ReadAllBytes(Path.Combine(temp["a"], "model.safetensors")), File.ReadAllBytes(Path.Combine(temp["b"], "model.safetensors")));
    }

    [Fact]
    public void RejectsHeadsThatDoNotDivideTheHiddenSize()
    {
        using var temp = new TempDirectory();

        var result = CliRunner.Run("init", "--tokenizer", Fixtures.LlamaTokenizer, "--hidden-size", "288", "--heads", "5", "--seed", "1", "--out", temp["model"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--heads", Assert.Single(result.ErrorLines));
        Assert.False(Directory.Exists(temp["model"]));
    }

    [Theory]
    [InlineData("--layers", "0")]
    [InlineData("--hidden-size", "-64")]
    [InlineData("--kv-heads", "4")]
    [InlineData("--intermediate-size", "0")]
    [InlineData("--max-position-embeddings", "0")]
    public void RejectsInvalidSizesNamingTheOption(string option, string value)
    {
        using var temp = new TempDirectory();

        var result = CliRunner.Run("init", "--tokenizer", Fixtures.LlamaTokenizer, option, value, "--seed", "1", "--out", temp["model"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(option, Assert.Single(result.ErrorLines));
    }

    [Fact]
    public void RefusesToOverwriteAModelWithoutForce()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, CliRunner.Run(SmallModel(temp["model"])).ExitCode);

        Assert.Equal(2, CliRunner.Run(SmallModel(temp["model"])).ExitCode);
        Assert.Equal(0, CliRunner.Run(SmallModel(temp["model"]).Append("--force").ToArray()).ExitCode);
    }

    [Theory]
    [InlineData(288, 768)]
    [InlineData(64, 192)]
    [InlineData(100, 288)]
    [InlineData(4096, 10944)]
    public void DefaultIntermediateSizeIsEightThirdsRoundedUpToAMultipleOf32(int hidden, int expected) =>
        Assert.Equal(expected, InitCommand.DefaultIntermediateSize(hidden));
}
