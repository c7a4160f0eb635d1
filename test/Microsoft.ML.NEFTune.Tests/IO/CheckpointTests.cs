using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.IO;

public class CheckpointTests
{
    private static Tensor Logits(LlamaForCausalLM model)
    {
        using var _ = no_grad();
        using var ids = tensor(new long[] { 1, 7, 42, 300, 5, 99 }).unsqueeze(0);
        return model.forward(ids);
    }

    [Fact]
    public void SavedAndReloadedModelGivesIdenticalLogits()
    {
        using var dir = new TempDirectory();
        using var model = Llama2cCheckpoint.Load(Fixtures.StoriesBin);
        HuggingFaceCheckpoint.Save(model, dir.Path);
        using var reloaded = HuggingFaceCheckpoint.Load(dir.Path);
        using var a = Logits(model);
        using var b = Logits(reloaded);
        Assert.True(a.allclose(b, rtol: 0, atol: 0));
        Assert.True(File.Exists(dir["generation_config.json"]));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public void TheCheckpointsGenerationConfigIsSavedBackUnchanged()
    {
        using var first = new TempDirectory();
        using var second = new TempDirectory();
        using (var model = Llama2cCheckpoint.Load(Fixtures.StoriesBin)) HuggingFaceCheckpoint.Save(model, first.Path);
        var derived = JsonNode.Parse(File.ReadAllText(first["generation_config.json"]))!;
        Assert.Equal(2, (int)derived["eos_token_id"]!);                             // from config.json when the source has none
        // Llama 3 Instruct style: several end-of-sequence ids and sampling defaults that config.json does not carry.
        const string generation = """{"bos_token_id": 1, "do_sample": true, "eos_token_id": [2, 128009], "temperature": 0.6, "top_p": 0.9}""";
        File.WriteAllText(first["generation_config.json"], generation);
        using (var model = HuggingFaceCheckpoint.Load(first.Path)) HuggingFaceCheckpoint.Save(model, second.Path);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(generation), JsonNode.Parse(File.ReadAllText(second["generation_config.json"]))));
    }

    [Fact]
    public void InvalidGenerationConfigIsNamed()
    {
        using var dir = new TempDirectory();
        using (var model = Llama2cCheckpoint.Load(Fixtures.StoriesBin)) HuggingFaceCheckpoint.Save(model, dir.Path);
        File.WriteAllText(dir["generation_config.json"], "{ \"eos_token_id\": ");
        var e = Assert.Throws<ModelFormatException>(() => HuggingFaceCheckpoint.Load(dir.Path));
        Assert.Contains("generation_config.json", e.Message);
    }

    [Fact]
    public void SavedSafetensorsMatchTheFixtureConvertersKeysAndBytes()
    {
        // The HF fixture was converted independently from the llama2.c file; our llama2.c loader + saver must agree with it.
        using var dir = new TempDirectory();
        using var model = Llama2cCheckpoint.Load(Fixtures.StoriesBin);
        HuggingFaceCheckpoint.Save(model, dir.Path);
        var ours = SafetensorsFile.Open(dir["model.safetensors"]);
        var theirs = SafetensorsFile.Open(Path.Combine(Fixtures.StoriesHf, "model.safetensors"));
        Assert.Equal(theirs.Entries.Keys.OrderBy(k => k), ours.Entries.Keys.OrderBy(k => k));
        foreach (var key in theirs.Entries.Keys)
        {
            using var a = ours.Read(key);
            using var b = theirs.Read(key);
            Assert.True(a.allclose(b, rtol: 0, atol: 0), key);
        }
    }

    [Fact]
    public void ShardedCheckpointsLoad()
    {
        using var dir = new TempDirectory();
        var source = SafetensorsFile.Open(Path.Combine(Fixtures.StoriesHf, "model.safetensors"));
        var keys = source.Entries.Keys.OrderBy(k => k).ToList();
        var shards = new[] { keys.Take(keys.Count / 2).ToList(), keys.Skip(keys.Count / 2).ToList() };
        var map = new JsonObject();
        for (int i = 0; i < 2; i++)
        {
            var name = $"model-0000{i + 1}-of-00002.safetensors";
            SafetensorsFile.Save(dir[name], shards[i].Select(k => KeyValuePair.Create(k, source.Read(k))));
            foreach (var k in shards[i]) map[k] = name;
        }
        File.WriteAllText(dir["model.safetensors.index.json"], new JsonObject { ["weight_map"] = map }.ToJsonString());
        File.Copy(Path.Combine(Fixtures.StoriesHf, "config.json"), dir["config.json"]);
        using var model = HuggingFaceCheckpoint.Load(dir.Path);
        using var reference = HuggingFaceCheckpoint.Load(Fixtures.StoriesHf);
        using var a = Logits(model);
        using var b = Logits(reference);
        Assert.True(a.allclose(b, rtol: 0, atol: 0));
    }

    [Fact]
    public void PickleCheckpointsAreRefusedWithConversionAdvice()
    {
        using var dir = new TempDirectory();
        File.Copy(Path.Combine(Fixtures.StoriesHf, "config.json"), dir["config.json"]);
        File.WriteAllBytes(dir["pytorch_model.bin"], new byte[] { 0x80, 0x02, 0x7d });
        var e = Assert.Throws<ModelFormatException>(() => HuggingFaceCheckpoint.Load(dir.Path));
        Assert.Contains("never loaded", e.Message);
        Assert.Contains("safetensors", e.Message);
    }

    [Fact]
    public void MismatchedShapeNamesTheTensor()
    {
        using var dir = new TempDirectory();
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.StoriesHf, "config.json")))!.AsObject();
        config["intermediate_size"] = 176;
        File.WriteAllText(dir["config.json"], config.ToJsonString());
        File.Copy(Path.Combine(Fixtures.StoriesHf, "model.safetensors"), dir["model.safetensors"]);
        var e = Assert.Throws<ModelFormatException>(() => HuggingFaceCheckpoint.Load(dir.Path));
        Assert.Contains("mlp", e.Message);
        Assert.Contains("176", e.Message);
    }

    [Theory]
    [InlineData("num_attention_heads", 0, "must be positive")]
    [InlineData("num_attention_heads", 7, "does not divide")]
    [InlineData("num_key_value_heads", 3, "must divide")]
    [InlineData("vocab_size", -5, "must be positive")]
    [InlineData("rms_norm_eps", 0, "rms_norm_eps")]
    public void AbsurdConfigValuesAreRefusedByName(string field, double value, string expected)
    {
        using var dir = new TempDirectory();
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.StoriesHf, "config.json")))!.AsObject();
        config[field] = field == "rms_norm_eps" ? value : (int)value;
        File.WriteAllText(dir["config.json"], config.ToJsonString());
        var e = Assert.Throws<ModelFormatException>(() => LlamaConfig.Load(dir["config.json"]));
        Assert.Contains(expected, e.Message);
        Assert.Contains("config.json", e.Message);
    }

    [Fact]
    public void MissingConfigFieldIsNamed()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir["config.json"], "{\"hidden_size\": 64}");
        Assert.Contains("'vocab_size'", Assert.Throws<ModelFormatException>(() => LlamaConfig.Load(dir["config.json"])).Message);
    }

    [Fact]
    public void TruncatedLlama2cCheckpointIsRefused()
    {
        using var dir = new TempDirectory();
        var bytes = File.ReadAllBytes(Fixtures.StoriesBin);
        File.WriteAllBytes(dir["cut.bin"], bytes.Take(bytes.Length - 100).ToArray());
        var e = Assert.Throws<ModelFormatException>(() => Llama2cCheckpoint.Load(dir["cut.bin"]));
        Assert.Contains("implies", e.Message);
    }

    [Fact]
    public void Llama2cHeaderWithAbsurdValuesIsRefusedBeforeAllocating()
    {
        using var dir = new TempDirectory();
        var header = new[] { 1 << 30, 1 << 30, 1000, 8, 8, 1 << 30, 512 };
        File.WriteAllBytes(dir["evil.bin"], header.SelectMany(BitConverter.GetBytes).ToArray());
        Assert.Throws<ModelFormatException>(() => Llama2cCheckpoint.Load(dir["evil.bin"]));
    }

    [Fact]
    public void Llama3RopeScalingKeepsHighFrequenciesAndDividesLowOnes()
    {
        var config = TinyModels.Config();
        config.HeadDim = 128;
        config.RopeScaling = new RopeScaling("llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192);
        var scaled = new LlamaRotaryEmbedding(config).InverseFrequencies(1);   // wavelengths 2π (short) to ~55k (long)
        Assert.Equal(1.0, scaled[0]);
        Assert.Equal(Math.Pow(10000, -126.0 / 128) / 8, scaled[^1], 15);
    }
}
