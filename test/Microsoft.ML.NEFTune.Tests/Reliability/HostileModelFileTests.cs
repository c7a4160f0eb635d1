using System.Text;
using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.IO.Tokenizers;
using Microsoft.ML.NEFTune.Modeling;
using Microsoft.ML.NEFTune.Tests.Tokenizers;

namespace Microsoft.ML.NEFTune.Tests.Reliability;

/// <summary>
/// Model and tokenizer files whose claims would cost a huge allocation or crash a naive reader: each is refused with the
/// product's exception naming the file and the field.
/// </summary>
public class HostileModelFileTests
{
    private static string ModelWithConfig(TempDirectory dir, Action<JsonObject> edit)
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.StoriesHf, "config.json")))!.AsObject();
        edit(config);
        File.WriteAllText(dir["config.json"], config.ToJsonString());
        File.Copy(Path.Combine(Fixtures.StoriesHf, "model.safetensors"), dir["model.safetensors"]);
        return dir.Path;
    }

    [Fact]
    public void ConfigClaimingATerabyteModelIsCheckedAgainstTheWeightsBeforeAllocating()
    {
        using var dir = new TempDirectory();
        var path = ModelWithConfig(dir, c => { c["hidden_size"] = 1 << 20; c["intermediate_size"] = 1 << 20; });
        var e = Assert.Throws<ModelFormatException>(() => HuggingFaceCheckpoint.Load(path));
        Assert.Contains("config.json implies", e.Message);
        Assert.Contains("1048576", e.Message);
    }

    [Fact]
    public void ConfigClaimingMillionsOfLayersIsRefusedByTheTensorCount()
    {
        using var dir = new TempDirectory();
        var path = ModelWithConfig(dir, c => c["num_hidden_layers"] = int.MaxValue);
        var e = Assert.Throws<ModelFormatException>(() => HuggingFaceCheckpoint.Load(path));
        Assert.Contains($"{int.MaxValue} layers", e.Message);
    }

    [Theory]
    [InlineData("{\"head_dim\": 1073741824}", "num_attention_heads × head_dim")]
    [InlineData("{\"model_type\": 7}", "field 'model_type' must be a string")]
    [InlineData("{\"hidden_act\": [\"silu\"]}", "field 'hidden_act' must be a string")]
    [InlineData("{\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": \"8\"}}", "field 'rope_scaling.factor' must be a number")]
    [InlineData("{\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8, \"low_freq_factor\": 4, \"high_freq_factor\": 4}}", "low_freq_factor < high_freq_factor")]
    public void MistypedOrAbsurdConfigFieldsAreNamed(string patch, string expected)
    {
        using var dir = new TempDirectory();
        var path = ModelWithConfig(dir, c => { foreach (var (k, v) in JsonNode.Parse(patch)!.AsObject()) c[k] = v?.DeepClone(); });
        var e = Assert.Throws<ModelFormatException>(() => LlamaConfig.Load(Path.Combine(path, "config.json")));
        Assert.Contains(expected, e.Message);
        Assert.Contains("config.json", e.Message);
    }

    [Fact]
    public void DuplicateKeysInJsonAreNamedNotAnArgumentException()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir["config.json"], "{\"vocab_size\": 512, \"vocab_size\": 1000000}");
        Assert.Contains("the key 'vocab_size' appears twice", Assert.Throws<ModelFormatException>(() => LlamaConfig.Load(dir["config.json"])).Message);

        var header = Encoding.UTF8.GetBytes("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}, \"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}");
        Assert.Contains("the key 'a' appears twice", Assert.Throws<ModelFormatException>(() => SafetensorsFile.Parse("x.safetensors", header, 4)).Message);
    }

    [Theory]
    [InlineData("{\"dtype\": {\"F32\": 1}, \"shape\": [1], \"data_offsets\": [0, 4]}", "'dtype' must be a string")]
    [InlineData("{\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 4]}", "'shape' must be a list of integers")]
    [InlineData("{\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [\"0\", 4]}", "'data_offsets' must be a list of integers")]
    [InlineData("{\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 1e30]}", "'data_offsets' must be a list of integers")]
    public void MistypedSafetensorsEntriesNameTheField(string entry, string expected)
    {
        var header = Encoding.UTF8.GetBytes("{\"w\": " + entry + "}");
        var e = Assert.Throws<ModelFormatException>(() => SafetensorsFile.Parse("x.safetensors", header, 4));
        Assert.Contains("tensor 'w'", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData(new[] { 64, 172, 5, 8, 4, int.MinValue, 512 }, "vocab_size must be positive")]
    [InlineData(new[] { 1 << 20, 1 << 20, int.MaxValue, 8, 8, 512, int.MaxValue }, "implies")]
    public void Llama2cHeadersThatOverflowAreRefused(int[] header, string expected)
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir["m.bin"], header.SelectMany(BitConverter.GetBytes).Concat(new byte[64]).ToArray());
        Assert.Contains(expected, Assert.Throws<ModelFormatException>(() => ModelLoader.Load(dir["m.bin"])).Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TokenizerJsonIdsBeyondTheLimitAreRefusedBeforeSizingTheTable(bool added)
    {
        using var dir = new TempDirectory();
        var json = TinyByteLevelTokenizerJson.Build();
        if (added) json["added_tokens"]!.AsArray().Add(new JsonObject { ["id"] = int.MaxValue, ["content"] = "<big>" });
        else json["model"]!["vocab"]!["big"] = int.MaxValue;
        var path = TinyByteLevelTokenizerJson.Write(dir, json);
        var e = Assert.Throws<TokenizerFormatException>(() => TextTokenizer.Load(path));
        Assert.Contains($"id {int.MaxValue}", e.Message);
    }

    [Theory]
    [InlineData(true, false, false)]
    [InlineData(false, false, false)]
    [InlineData(false, true, false)]
    [InlineData(false, false, true)]
    public void ShapesCheckedBeforeAllocationAreTheModelsParameters(bool tied, bool qkvBias, bool attentionBias)
    {
        var config = TinyModels.Config(tied: tied);
        config.QkvBias = qkvBias;
        config.AttentionBias = attentionBias;
        using var model = new LlamaForCausalLM(config);
        var actual = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        var expected = StateDictLoader.ExpectedShapes(config);
        Assert.Equal(actual.Keys.OrderBy(k => k), expected.Keys.OrderBy(k => k));
        foreach (var (name, shape) in expected) Assert.Equal(shape, actual[name]);
    }
}
