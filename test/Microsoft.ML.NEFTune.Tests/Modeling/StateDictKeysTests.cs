using Microsoft.ML.NEFTune.Modeling;

namespace Microsoft.ML.NEFTune.Tests.Modeling;

public class StateDictKeysTests
{
    /// <summary>The keys and shapes of Hugging Face's LlamaForCausalLM for a config, written out from its definition.</summary>
    private static Dictionary<string, long[]> HuggingFaceKeys(LlamaConfig c)
    {
        long C = c.HiddenSize, I = c.IntermediateSize, q = c.NumAttentionHeads * c.HeadDim, kv = c.NumKeyValueHeads * c.HeadDim;
        var keys = new Dictionary<string, long[]> { ["model.embed_tokens.weight"] = new[] { (long)c.VocabSize, C }, ["model.norm.weight"] = new[] { C } };
        if (!c.TieWordEmbeddings) keys["lm_head.weight"] = new[] { (long)c.VocabSize, C };
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            var p = $"model.layers.{i}.";
            keys[p + "input_layernorm.weight"] = new[] { C };
            keys[p + "post_attention_layernorm.weight"] = new[] { C };
            keys[p + "self_attn.q_proj.weight"] = new[] { q, C };
            keys[p + "self_attn.k_proj.weight"] = new[] { kv, C };
            keys[p + "self_attn.v_proj.weight"] = new[] { kv, C };
            keys[p + "self_attn.o_proj.weight"] = new[] { C, q };
            keys[p + "mlp.gate_proj.weight"] = new[] { I, C };
            keys[p + "mlp.up_proj.weight"] = new[] { I, C };
            keys[p + "mlp.down_proj.weight"] = new[] { C, I };
            if (c.QkvBias || c.AttentionBias)
            {
                keys[p + "self_attn.q_proj.bias"] = new[] { q };
                keys[p + "self_attn.k_proj.bias"] = new[] { kv };
                keys[p + "self_attn.v_proj.bias"] = new[] { kv };
            }
            if (c.AttentionBias) keys[p + "self_attn.o_proj.bias"] = new[] { C };
        }
        return keys;
    }

    [Theory]
    [InlineData(true, "llama")]
    [InlineData(false, "llama")]
    [InlineData(false, "qwen2")]
    public void ParameterNamesAndShapesEqualHuggingFaceStateDict(bool tied, string modelType)
    {
        var config = TinyModels.Config(tied: tied);
        config.ModelType = modelType;
        config.QkvBias = modelType == "qwen2";
        using var model = new LlamaForCausalLM(config);
        var ours = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        var expected = HuggingFaceKeys(config);
        Assert.Equal(expected.Keys.OrderBy(k => k), ours.Keys.OrderBy(k => k));
        foreach (var (key, shape) in expected) Assert.Equal(shape, ours[key]);
    }
}
