using Microsoft.ML.NEFTune.Noise;
using Microsoft.ML.NEFTune.Tests.Cli;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Tests.Training;

/// <summary>The CLI, the library and the ML.NET options resolve to the same effective settings.</summary>
public sealed class SettingsTests : IDisposable
{
    private readonly TempDirectory temp = new();
    private readonly string model, data, output;

    public SettingsTests()
    {
        model = temp["model"];
        Directory.CreateDirectory(model);                     // --print-settings checks that the paths exist, and loads nothing
        data = temp["data.json"];
        File.WriteAllText(data, "[]");
        output = temp["out"];
    }

    public void Dispose() => temp.Dispose();

    private string Cli(params string[] flags)
    {
        var result = CliRunner.Run(new[] { "train", "--model", model, "--data", data, "--out", output, "--print-settings" }.Concat(flags).ToArray());
        Assert.True(result.ExitCode == 0, result.Error);
        return result.Out.Trim();
    }

    private string MlNet(NeftuneInstructionTuningOptions options)
    {
        options.ModelPath = model;
        options.OutputDirectory = output;
        return new MLContext(seed: 123).Neftune().InstructionTuning(options).Options.ToTrainingOptions().ToJson();
    }

    [Fact]
    public void DefaultsAreTheSameInTheCliTheLibraryAndMlNet()
    {
        var library = new TrainingOptions { OutputDirectory = output }.ToJson();

        Assert.Equal(library, Cli());
        Assert.Equal(library, MlNet(new NeftuneInstructionTuningOptions()));   // the model's own chat template too
    }

    [Fact]
    public void DefaultsAreThePapersNoiseWithOneSeedRuleAndNoLengthGrouping()
    {
        var d = new TrainingOptions();
        Assert.Equal((5.0, NeftuneDistribution.Uniform, NeftuneScaling.PerSequence), (d.Noise.Alpha, d.Noise.Distribution, d.Noise.Scaling));
        Assert.Equal(42, d.Seed);
        Assert.False(d.GroupByLength);
        Assert.Equal("model", d.Template);
        Assert.Equal(1.2, d.Generation.RepetitionPenalty);
        Assert.Equal(0, d.Generation.Temperature);
    }

    [Fact]
    public void TheSameChangesGiveTheSameSettingsEverywhere()
    {
        var library = new TrainingOptions
        {
            OutputDirectory = output, Noise = new NeftuneOptions { Alpha = 10, Distribution = NeftuneDistribution.Gaussian, Scaling = NeftuneScaling.PaddedLength },
            Seed = 7, GroupByLength = true, BatchSize = 4, GradientAccumulationSteps = 2, LearningRate = 1e-4, MaxLength = 256, Template = "chatml",
            ValidationFraction = 0.1, Epochs = 2, Scheduler = LearningRateSchedule.Linear, TrainOnPrompt = true,
        }.ToJson();

        var cli = Cli("--noise-alpha", "10", "--noise", "gaussian", "--noise-scaling", "padded-length", "--seed", "7", "--group-by-length",
            "--batch-size", "4", "--grad-accum", "2", "--lr", "1e-4", "--max-length", "256", "--template", "chatml", "--val-split", "0.1",
            "--epochs", "2", "--scheduler", "linear", "--train-on-prompt");
        var mlnet = MlNet(new NeftuneInstructionTuningOptions
        {
            NoiseAlpha = 10, NoiseKind = "gaussian", NoiseScaling = NeftuneScaling.PaddedLength, Seed = 7, GroupByLength = true,
            BatchSize = 4, GradientAccumulationSteps = 2, LearningRate = 1e-4, MaxLength = 256, PromptTemplate = "chatml", ValidationFraction = 0.1,
            NumberOfEpochs = 2, LearningRateSchedule = LearningRateSchedule.Linear, TrainOnPrompt = true,
        });

        Assert.Equal(library, cli);
        Assert.Equal(library, mlnet);
    }

    [Fact]
    public void ThePaperRecipeIsTheAuthorsAlpacaSetupInEveryFrontEnd()
    {
        var recipe = TrainingOptions.PaperRecipe();
        Assert.Equal(TrainingOptions.PaperEffectiveBatchSize, recipe.BatchSize * recipe.GradientAccumulationSteps);
        Assert.Equal((5e-5, 3, 512, "alpaca", 5.0), (recipe.LearningRate, recipe.Epochs, recipe.MaxLength, recipe.Template, recipe.Noise.Alpha));
        Assert.False(recipe.TrainOnPrompt);

        var library = (recipe with { OutputDirectory = output }).ToJson();
        Assert.Equal(library, Cli("--recipe", "paper"));
        Assert.Equal(library, MlNet(new NeftuneInstructionTuningOptions { Training = recipe }));

        // A flag given with the preset overrides it; a smaller micro-batch keeps the effective batch through accumulation.
        Assert.Equal((TrainingOptions.PaperRecipe(4) with { OutputDirectory = output, Noise = recipe.Noise with { Alpha = 15 } }).ToJson(),
            Cli("--recipe", "paper", "--batch-size", "4", "--noise-alpha", "15"));
        Assert.Equal(32, TrainingOptions.PaperRecipe(4).GradientAccumulationSteps);
    }

    [Fact]
    public void APaperRecipeBatchThatDoesNotDivideTheEffectiveBatchIsAUsageError()
    {
        var result = CliRunner.Run("train", "--model", model, "--data", data, "--out", output, "--print-settings", "--recipe", "paper", "--batch-size", "3");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--batch-size 3 does not divide", result.Error);
    }
}
