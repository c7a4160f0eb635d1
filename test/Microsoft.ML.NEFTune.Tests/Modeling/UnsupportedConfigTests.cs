using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.Modeling;

namespace Microsoft.ML.NEFTune.Tests.Modeling;

/// <summary>A config that asks for a computation the library does not implement is refused by name, never approximated.</summary>
public class UnsupportedConfigTests
{
    private static ModelFormatException Refusal(string variant, Action<JsonObject> change)
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(VariantReference.PathOf(variant), "config.json")))!.AsObject();
        change(config);
        return Assert.Throws<ModelFormatException>(() => LlamaConfig.FromJson(config));
    }

    [Theory]
    [InlineData("gemma")]
    [InlineData("phi3small")]
    [InlineData("qwen3")]
    public void UnsupportedModelTypeIsRefusedWithTheSupportedOnes(string modelType)
    {
        var e = Refusal("llama-f32", c => c["model_type"] = modelType);
        Assert.Contains($"model_type '{modelType}' is not supported", e.Message);
        Assert.Contains("llama, mistral, qwen2, phi3", e.Message);
    }

    [Theory]
    [InlineData("yarn")]
    [InlineData("ntk")]
    public void UnsupportedRopeScalingIsRefusedWithTheSupportedOnes(string type)
    {
        var e = Refusal("llama-f32", c => c["rope_scaling"] = new JsonObject { ["rope_type"] = type, ["factor"] = 4.0 });
        Assert.Contains($"rope_scaling type '{type}' is not supported", e.Message);
        Assert.Contains("linear, dynamic, llama3, longrope", e.Message);
    }

    [Theory]
    [InlineData("qwen2-bias-tied", "use_sliding_window", "use_sliding_window: true is not supported for qwen2")]
    [InlineData("llama-f32", "mlp_bias", "mlp_bias: true is not supported")]
    public void FeatureSwitchesThatChangeTheComputationAreRefused(string variant, string key, string message)
    {
        Assert.Contains(message, Refusal(variant, c => c[key] = true).Message);
    }

    [Theory]
    [InlineData("phi3-swa", "partial_rotary_factor", 0.75, "partial_rotary_factor 0.75 is not supported")]
    [InlineData("phi3-swa", "resid_pdrop", 0.1, "resid_pdrop 0.1 is not supported")]
    [InlineData("llama-f32", "attention_dropout", 0.1, "attention_dropout 0.1 is not supported")]
    public void NumericFeaturesThatChangeTheComputationAreRefused(string variant, string key, double value, string message)
    {
        Assert.Contains(message, Refusal(variant, c => c[key] = value).Message);
    }

    [Fact]
    public void QuantizedCheckpointIsRefusedByMethod()
    {
        var e = Refusal("llama-f32", c => c["quantization_config"] = new JsonObject { ["quant_method"] = "gptq", ["bits"] = 4 });
        Assert.Contains("quantization_config, method 'gptq'", e.Message);
    }

    [Fact]
    public void SlidingAttentionLayersAreRefusedForQwen2()
    {
        var e = Refusal("qwen2-bias-tied", c => c["layer_types"] = new JsonArray("full_attention", "sliding_attention"));
        Assert.Contains("layer_types other than 'full_attention' are not supported for qwen2", e.Message);
    }

    [Fact]
    public void LongRopeFactorsOfTheWrongLengthAreRefused()
    {
        var e = Refusal("phi3-longrope", c => c["rope_scaling"]!["short_factor"] = new JsonArray(1.0, 2.0));
        Assert.Contains("need head_dim / 2 = 4 values, got 2 and 4", e.Message);
    }

    [Fact]
    public void SuIsReadAsLongRope()
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(VariantReference.PathOf("phi3-longrope"), "config.json")))!.AsObject();
        config["rope_scaling"]!["type"] = "su";
        Assert.Equal("longrope", LlamaConfig.FromJson(config).RopeScaling!.Type);
    }

    [Fact]
    public void SlidingWindowIsReadForMistralAndPhi3AndIgnoredWhereTransformersIgnoresIt()
    {
        LlamaConfig Read(string variant, Action<JsonObject>? change = null)
        {
            var config = JsonNode.Parse(File.ReadAllText(Path.Combine(VariantReference.PathOf(variant), "config.json")))!.AsObject();
            change?.Invoke(config);
            return LlamaConfig.FromJson(config);
        }
        Assert.Equal(5, Read("mistral-swa").SlidingWindow);
        Assert.Equal(7, Read("phi3-swa").SlidingWindow);
        Assert.Null(Read("mistral-swa", c => c["sliding_window"] = null).SlidingWindow);
        Assert.Null(Read("qwen2-bias-tied").SlidingWindow);                           // use_sliding_window false
        Assert.Null(Read("llama-f32", c => c["sliding_window"] = 4).SlidingWindow);   // LlamaForCausalLM has no window
    }
}
