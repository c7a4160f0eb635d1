using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Lora;
using Microsoft.ML.NEFTune.Modeling;
using Microsoft.ML.NEFTune.Noise;
using Microsoft.ML.NEFTune.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.Modeling;

/// <summary>A model of each family, fine-tuned with NEFTune (fully or with LoRA), saves in its family's layout and reloads with the same logits.</summary>
public class FamilyFineTuneTests
{
    public static TheoryData<string, bool> Families => new()
    {
        { "llama-f32", false }, { "mistral-swa", false }, { "qwen2-bias-tied", false }, { "phi3-swa", false },
        { "llama-f32", true }, { "mistral-swa", true }, { "qwen2-bias-tied", true }, { "phi3-swa", true },
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
            if (model.Config.TorchDtype == "bfloat16")
            {
                // The merged copy is built in the file's dtype: W + BA (the trained function, checked in float32 below)
                // rounded once to bfloat16. The file holds exactly those weights, and the reloaded model (float32)
                // computes exactly what the copy, read in float32, computes.
                using var merged = LoraAdapters.MergedCopy(model);
                var mergedWeights = merged.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
                Assert.All(mergedWeights.Values, w => Assert.Equal(ScalarType.BFloat16, w.dtype));
                var differing = reloaded.named_parameters().Where(p => !p.parameter.eq(mergedWeights[p.name].to(ScalarType.Float32)).all().item<bool>()).Select(p => p.name).ToList();
                Assert.True(differing.Count == 0, "the reloaded weights differ from the merged copy's: " + string.Join(", ", differing));
                LoraAdapters.Merge(model);                                      // in place, in float32
                using (var mergedInFloat32 = Logits(model, reference.InputIds))
                    Assert.InRange(mergedInFloat32.sub(after).abs().max().item<float>(), 0, 1e-4);
                var notRounded = model.named_parameters().Where(p => !p.parameter.to(ScalarType.BFloat16).eq(mergedWeights[p.name]).all().item<bool>()).Select(p => p.name).ToList();
                Assert.True(notRounded.Count == 0, "the merged copy is not the float32 merge rounded to bfloat16: " + string.Join(", ", notRounded));
                merged.to(ScalarType.Float32);
                using var mergedLogits = Logits(merged, reference.InputIds);
                Assert.True(reloadedLogits.eq(mergedLogits).all().item<bool>(), "the reloaded merged model gives other logits than the merged copy");
            }
            // The merged file holds W + BA rounded once (float32: within 1e-4 of the training model); the adapter reloaded
            // onto the base gives the same function exactly.
            else Assert.InRange(reloadedLogits.sub(after).abs().max().item<float>(), 0, 1e-4);
            using var onBase = ModelLoader.Load(reference.Directory);
            LoraAdapters.LoadAdapter(onBase, dir.Path);
            using var adapterLogits = Logits(onBase, reference.InputIds);
            Assert.True(adapterLogits.eq(after).all().item<bool>(), "the reloaded adapter gives other logits");
        }
        else Assert.True(reloadedLogits.eq(after).all().item<bool>(), "the reloaded model gives other logits");
    }
}
