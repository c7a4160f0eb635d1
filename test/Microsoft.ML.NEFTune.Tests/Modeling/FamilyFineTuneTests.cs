using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Lora;
using Microsoft.ML.NEFTune.Modeling;
using Microsoft.ML.NEFTune.Noise;
using Microsoft.ML.NEFTune.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.Modeling;

/// <summary>A model of each family, fine-tuned with NEFTune (fully or with LoRA), saves in its family's layout and reloads with the same logits.</summary>
public class FamilyFineTuneTests
{
    public static TheoryData<string, bool> Families => new()
    {
        { "llama-f32", false }, { "mistral-swa", false }, { "qwen2-bias-tied", false }, { "phi3-swa", false },
        { "llama-f32", true },
    };

    private static Tensor Logits(LlamaForCausalLM model, long[] ids)
    {
        using var _ = no_grad();
        model.eval();
        return model.forward(tensor(ids).unsqueeze(0));
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void FineTunedModelReloadsWithIdenticalLogits(string variant, bool lora)
    {
        var reference = VariantReference.Load(variant);
        using var dir = new TempDirectory();
        using var model = ModelLoader.Load(reference.Directory);
        using var before = Logits(model, reference.InputIds);
        var data = TinyModels.PatternExamples(8, seed: 3, vocab: model.Config.VocabSize);
        var options = new TrainingOptions
        {
            LearningRate = 1e-2, BatchSize = 4, Epochs = 1, NoiseOffTrainSampleSize = 4, Seed = 5, OutputDirectory = dir.Path,
            Noise = new NeftuneOptions { Alpha = 5 }, Lora = lora ? new LoraOptions { Rank = 4, TargetModules = LoraOptions.AllProjections } : null,
        };
        using (var trainer = new NeftuneTrainer(model, data, null, options)) trainer.Train();
        using var after = Logits(model, reference.InputIds);
        Assert.True(after.sub(before).abs().max().item<float>() > 1e-3, "training did not change the model");

        var saved = lora ? dir["merged"] : dir.Path;
        var names = SafetensorsFile.Open(Path.Combine(saved, "model.safetensors")).Entries.Keys.Order();
        Assert.Equal(SafetensorsFile.Open(Path.Combine(reference.Directory, "model.safetensors")).Entries.Keys.Order(), names);
        using var reloaded = ModelLoader.Load(saved);
        using var reloadedLogits = Logits(reloaded, reference.InputIds);
        if (lora)
        {
            // The merged file holds W + BA rounded once; the adapter reloaded onto the base gives the same function exactly.
            Assert.InRange(reloadedLogits.sub(after).abs().max().item<float>(), 0, 1e-4);
            using var onBase = ModelLoader.Load(reference.Directory);
            LoraAdapters.LoadAdapter(onBase, dir.Path);
            using var adapterLogits = Logits(onBase, reference.InputIds);
            Assert.True(adapterLogits.eq(after).all().item<bool>(), "the reloaded adapter gives other logits");
        }
        else Assert.True(reloadedLogits.eq(after).all().item<bool>(), "the reloaded model gives other logits");
    }
}
