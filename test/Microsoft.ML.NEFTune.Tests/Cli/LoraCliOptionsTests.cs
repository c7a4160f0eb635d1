using System.CommandLine;
using Microsoft.ML.NEFTune.Cli;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Lora;
using Microsoft.ML.NEFTune.Quantization;

namespace Microsoft.ML.NEFTune.Tests.Cli;

public class LoraCliOptionsTests
{
    private static (LoraCliOptions Options, ParseResult Result) Parse(params string[] args)
    {
        var lora = new LoraCliOptions();
        var command = new RootCommand();
        lora.AddTo(command);
        return (lora, command.Parse(args));
    }

    [Fact]
    public void NoRankMeansNoLora()
    {
        var (lora, result) = Parse();
        Assert.Empty(result.Errors);
        Assert.Null(lora.Read(result));
    }

    [Fact]
    public void AllFlagsAreRead()
    {
        var (lora, result) = Parse("--lora-rank", "16", "--lora-alpha", "32", "--lora-dropout", "0.1", "--lora-targets", "all", "--quantize-base", "nf4", "--lora-save-merged", "false");
        Assert.Empty(result.Errors);
        var options = lora.Read(result, "base")!;
        Assert.Equal(16, options.Rank);
        Assert.Equal(32, options.Alpha);
        Assert.Equal(0.1, options.Dropout);
        Assert.Equal(LoraOptions.AllProjections, options.TargetModules);
        Assert.Equal(BaseQuantization.Nf4, options.QuantizeBase);
        Assert.False(options.SaveMergedModel);
        Assert.Equal("base", options.BaseModelNameOrPath);
    }

    [Fact]
    public void DefaultsFollowLoraOptions()
    {
        var (lora, result) = Parse("--lora-rank", "4", "--lora-targets", "q,v");
        var options = lora.Read(result)!;
        Assert.Equal(new LoraOptions().Alpha, options.Alpha);
        Assert.Equal(new[] { "q_proj", "v_proj" }, options.TargetModules);
        Assert.Equal(BaseQuantization.None, options.QuantizeBase);
        Assert.True(options.SaveMergedModel);
    }

    [Theory]
    [InlineData("--lora-rank 0", "--lora-rank")]
    [InlineData("--lora-rank 4 --lora-dropout 1", "--lora-dropout")]
    [InlineData("--lora-rank 4 --lora-targets q,x", "--lora-targets")]
    [InlineData("--lora-rank 4 --quantize-base fp4", "--quantize-base")]
    [InlineData("--quantize-base nf4", "needs --lora-rank")]
    public void BadValuesAreUsageErrorsNamingTheOption(string args, string expected)
    {
        var (_, result) = Parse(args.Split(' '));
        Assert.Contains(result.Errors, e => e.Message.Contains(expected));
    }

    [Fact]
    public void TrainWithQLoraWritesThePeftAdapterAndTheMergedModel()
    {
        using var dir = new TinyLlamaDirectory();
        var result = CliRunner.Run("train", "--model", dir.ModelPath, "--data", dir.DataPath, "--val-split", "0.25", "--noise-alpha", "5", "--max-steps", "4",
            "--batch-size", "4", "--lr", "1e-3", "--max-length", "96", "--seed", "3", "--out", dir["out"],
            "--lora-rank", "4", "--lora-alpha", "8", "--lora-targets", "all", "--quantize-base", "nf4");
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("LoRA adapter in", result.Out);
        foreach (var file in new[] { "adapter_config.json", "adapter_model.safetensors", "metrics.jsonl", "merged/model.safetensors", "merged/config.json", "merged/tokenizer.model" })
            Assert.True(File.Exists(Path.Combine(dir["out"], file)), file);
        Assert.False(File.Exists(Path.Combine(dir["out"], "model.safetensors")));
        var config = PeftAdapterConfig.Load(dir["out"]);
        Assert.Equal((4, 8.0), (config.R, config.LoraAlpha));
        Assert.Equal(LoraOptions.AllProjections, config.TargetModules);
        Assert.Equal(dir.ModelPath, config.BaseModelNameOrPath);
        using var merged = HuggingFaceCheckpoint.Load(Path.Combine(dir["out"], "merged"));
        Assert.Equal(HuggingFaceCheckpoint.Load(dir.ModelPath).named_parameters().Select(p => p.name), merged.named_parameters().Select(p => p.name));
    }

    [Fact]
    public void LoraFlagsWithoutRankAreAUsageError()
    {
        var result = CliRunner.Run("train", "--model", "m", "--data", "d", "--noise-alpha", "5", "--out", "o", "--quantize-base", "nf4");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--quantize-base needs --lora-rank", result.Error);
    }
}
