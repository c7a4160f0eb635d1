using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Lora;
using Microsoft.ML.NEFTune.Quantization;

namespace Microsoft.ML.NEFTune.Tests.MLNet;

public sealed class LoraFitTests : IDisposable
{
    private readonly TempDirectory temp = new();
    private readonly string modelDirectory;

    public LoraFitTests() => modelDirectory = MLNetTestData.CreateTinyModel(temp["model"], seed: 3);

    public void Dispose() => temp.Dispose();

    [Fact]
    public void QLoraFitGivesAPlainMergedModelAndSavesThePeftAdapter()
    {
        var ml = new MLContext(seed: 1);
        var options = MLNetTestData.FastOptions(modelDirectory);
        options.MaxSteps = 2;
        options.OutputDirectory = temp["out"];
        options.Lora = new LoraOptions { Rank = 4, QuantizeBase = BaseQuantization.Nf4 };
        using var tuned = ml.Neftune().InstructionTuning(options).Fit(ml.Data.LoadFromEnumerable(MLNetTestData.Records(8)));

        Assert.False(Microsoft.ML.NEFTune.Lora.LoraAdapters.HasAdapters(tuned.Model));
        using var baseModel = HuggingFaceCheckpoint.Load(modelDirectory);
        Assert.Equal(baseModel.named_parameters().Select(p => p.name), tuned.Model.named_parameters().Select(p => p.name));
        var config = PeftAdapterConfig.Load(temp["out"]);
        Assert.Equal(4, config.R);
        Assert.Equal(modelDirectory, config.BaseModelNameOrPath);
    }
}
