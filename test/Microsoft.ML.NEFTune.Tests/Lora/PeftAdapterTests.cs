using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Lora;
using Microsoft.ML.NEFTune.Modeling;
using Microsoft.ML.NEFTune.Quantization;
using static Microsoft.ML.NEFTune.Tests.Lora.LoraTestModels;
using LoraApi = Microsoft.ML.NEFTune.Lora.LoraAdapters;

namespace Microsoft.ML.NEFTune.Tests.Lora;

public class PeftAdapterTests
{
    [Fact]
    public void AdapterFilesUsePeftTensorNamesAndConfigFields()
    {
        using var dir = new TempDirectory();
        using var model = TinyModels.Create();
        LoraApi.Apply(model, new LoraOptions { Rank = 4, Alpha = 16, Dropout = 0.1, TargetModules = LoraOptions.ParseTargets("q,v") }, seed: 1);
        LoraApi.SaveAdapter(model, dir.Path, "stories15M");

        Assert.Equal(new[] { "adapter_config.json", "adapter_model.safetensors" }, Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order());
        var file = SafetensorsFile.Open(dir["adapter_model.safetensors"]);
        var expected = Enumerable.Range(0, 2).SelectMany(i => new[] { "q_proj", "v_proj" }.SelectMany(m => new[]
        {
            $"base_model.model.model.layers.{i}.self_attn.{m}.lora_A.weight", $"base_model.model.model.layers.{i}.self_attn.{m}.lora_B.weight",
        })).Order(StringComparer.Ordinal);
        Assert.Equal(expected, file.Entries.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(new long[] { 4, 32 }, file.Entries["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"].Shape);
        Assert.Equal(new long[] { 16, 4 }, file.Entries["base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"].Shape);
        Assert.Equal("F32", file.Entries["base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"].DType);
        Assert.Equal("pt", file.Metadata["format"]);

        var config = JsonNode.Parse(File.ReadAllText(dir["adapter_config.json"]))!.AsObject();
        Assert.Equal("LORA", (string?)config["peft_type"]);
        Assert.Equal("CAUSAL_LM", (string?)config["task_type"]);
        Assert.Equal(4, (int)config["r"]!);
        Assert.Equal(16, (int)config["lora_alpha"]!);
        Assert.Equal(0.1, (double)config["lora_dropout"]!);
        Assert.Equal("none", (string?)config["bias"]);
        Assert.False((bool)config["fan_in_fan_out"]!);
        Assert.Equal("stories15M", (string?)config["base_model_name_or_path"]);
        Assert.Equal(new[] { "q_proj", "v_proj" }, config["target_modules"]!.AsArray().Select(x => (string)x!));
        Assert.Equal(config.Select(kv => kv.Key).Order(StringComparer.Ordinal), config.Select(kv => kv.Key));   // sort_keys, as PEFT writes
    }

    [Theory]
    [InlineData(BaseQuantization.None)]
    [InlineData(BaseQuantization.Nf4)]
    public void SavedAdapterReloadedOntoTheBaseGivesIdenticalOutputs(BaseQuantization quantization)
    {
        using var dir = new TempDirectory();
        using var model = TinyModels.Create(seed: 5);
        LoraApi.Apply(model, new LoraOptions { TargetModules = LoraOptions.AllProjections, QuantizeBase = quantization }, seed: 3);
        RandomizeAdapters(model, seed: 4);
        using var expected = Logits(model);
        LoraApi.SaveAdapter(model, dir.Path);

        using var reloaded = TinyModels.Create(seed: 5);
        var adapters = LoraApi.LoadAdapter(reloaded, dir.Path, quantization, seed: 99);   // another seed: everything comes from the file
        using var actual = Logits(reloaded);
        Assert.Equal(0, MaxAbsDifference(expected, actual));
        Assert.Equal(LoraApi.AdapterParameters(model).Sum(p => p.Parameter.numel()), adapters.Sum(p => p.numel()));
        Assert.Equal(LoraOptions.AllProjections, LoraApi.OptionsOf(reloaded)!.TargetModules);
    }

    [Fact]
    public void MergedModelSavedInHuggingFaceLayoutLoadsAsAPlainModel()
    {
        using var dir = new TempDirectory();
        using var model = TinyModels.Create(seed: 2);
        LoraApi.Apply(model, new LoraOptions(), seed: 1);
        RandomizeAdapters(model, seed: 6);
        using var expected = Logits(model);
        LoraApi.Merge(model);
        HuggingFaceCheckpoint.Save(model, dir.Path);

        var keys = SafetensorsFile.Open(dir["model.safetensors"]).Entries.Keys.ToList();
        Assert.Contains("model.layers.0.self_attn.q_proj.weight", keys);
        Assert.DoesNotContain(keys, k => k.Contains("lora_") || k.Contains("base_layer"));
        using var loaded = HuggingFaceCheckpoint.Load(dir.Path);
        using var actual = Logits(loaded);
        Assert.True(MaxAbsDifference(expected, actual) < 1e-5);
    }

    [Fact]
    public void SaveMergedLeavesTheAdaptersInPlace()
    {
        using var dir = new TempDirectory();
        using var model = TinyModels.Create(seed: 2);
        LoraApi.Apply(model, new LoraOptions { QuantizeBase = BaseQuantization.Int8 }, seed: 1);
        RandomizeAdapters(model, seed: 6);
        using var expected = Logits(model);
        LoraApi.SaveMerged(model, dir.Path);
        Assert.True(LoraApi.HasAdapters(model));
        using var loaded = HuggingFaceCheckpoint.Load(dir.Path);
        using var actual = Logits(loaded);
        Assert.True(MaxAbsDifference(expected, actual) < 1e-5);
    }

    [Fact]
    public void AdaptersWrittenByPeftWithAdapterNamesAndHalfPrecisionLoad()
    {
        using var dir = new TempDirectory();
        using var source = TinyModels.Create(seed: 1);
        LoraApi.Apply(source, new LoraOptions { Rank = 2, TargetModules = new[] { "q_proj" } }, seed: 1);
        RandomizeAdapters(source, seed: 2);
        var tensors = LoraApi.AdapterParameters(source).ToDictionary(
            p => "base_model.model." + p.Name.Replace(".weight", ".default.weight"), p => p.Parameter.to_type(TorchSharp.torch.ScalarType.Float16));
        SafetensorsFile.Save(dir["adapter_model.safetensors"], tensors);
        File.WriteAllText(dir["adapter_config.json"], """{"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 2, "lora_alpha": 16, "lora_dropout": 0.0, "target_modules": ["q_proj"], "bias": "none", "use_dora": false, "rank_pattern": {}}""");
        using var model = TinyModels.Create(seed: 1);
        LoraApi.LoadAdapter(model, dir.Path);
        Assert.All(LoraApi.AdapterParameters(model).Zip(LoraApi.AdapterParameters(source)), p =>
            Assert.True(MaxAbsDifference(p.First.Parameter, p.Second.Parameter) < 1e-3));
    }

    [Theory]
    [InlineData("\"use_dora\": true", "use_dora")]
    [InlineData("\"peft_type\": \"IA3\"", "peft_type")]
    [InlineData("\"bias\": \"all\"", "bias")]
    [InlineData("\"rank_pattern\": {\"q_proj\": 4}", "rank_pattern")]
    public void UnsupportedPeftFeaturesAreRejectedByName(string field, string name)
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir["adapter_config.json"], "{\"r\": 2, \"lora_alpha\": 4, \"target_modules\": [\"q_proj\"], " + field + "}");
        using var model = TinyModels.Create();
        var e = Assert.Throws<ModelFormatException>(() => LoraApi.LoadAdapter(model, dir.Path));
        Assert.Contains(name, e.Message);
    }

    [Fact]
    public void AnAdapterOfAnotherShapeIsRejected()
    {
        using var dir = new TempDirectory();
        var config = TinyModels.Config();
        config.HiddenSize = 64; config.HeadDim = 16; config.IntermediateSize = 128;
        using var wide = new LlamaForCausalLM(config);
        LoraApi.Apply(wide, new LoraOptions(), seed: 1);
        LoraApi.SaveAdapter(wide, dir.Path);
        using var model = TinyModels.Create();
        var e = Assert.Throws<ModelFormatException>(() => LoraApi.LoadAdapter(model, dir.Path));
        Assert.Contains("shape", e.Message);
    }
}
