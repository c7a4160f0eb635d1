using Microsoft.ML.NEFTune.Generation;
using Microsoft.ML.NEFTune.Lora;
using Microsoft.ML.NEFTune.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.Modeling;

public class SingleTokenDecoderTests
{
    private static readonly long[] Ids = { 1, 9, 4, 33, 12, 40, 7, 21, 5, 60, 17, 3, 28, 50 };

    /// <summary>A bfloat16 model and a float32 one holding the same (bfloat16-representable) weights.</summary>
    private static (LlamaForCausalLM BFloat16, LlamaForCausalLM Float32) Models(string variant)
    {
        LlamaForCausalLM Make()
        {
            var config = TinyModels.Config(vocab: 64, tied: variant != "untied");
            config.InitializerRange = 0.2;                                       // logits of order 1, so a wrong step shows
            if (variant == "mha") config.NumKeyValueHeads = config.NumAttentionHeads;
            if (variant == "qkv-bias") config.QkvBias = true;
            if (variant == "sliding-window") config.SlidingWindow = 3;
            if (variant == "llama3-rope") config.RopeScaling = new RopeScaling("llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 16);
            var model = new LlamaForCausalLM(config);
            model.InitializeWeights(3);
            using var noGrad = no_grad();
            foreach (var p in model.parameters())
            {
                if (variant == "qkv-bias" && p.dim() == 1 && p.shape[0] != config.HiddenSize) p.normal_(0, 0.5, new Generator(5));   // non-zero biases
                p.copy_(p.to_type(ScalarType.BFloat16));
            }
            model.eval();
            return model;
        }
        var bf16 = Make();
        bf16.to(ScalarType.BFloat16);
        return (bf16, Make());
    }

    [Theory]
    [InlineData("gqa")]
    [InlineData("mha")]
    [InlineData("untied")]
    [InlineData("qkv-bias")]
    [InlineData("sliding-window")]
    [InlineData("llama3-rope")]
    public void StepsMatchTheFloat32ModulesMoreCloselyThanTheBFloat16Modules(string variant)
    {
        using var scope = NewDisposeScope();
        var (model, reference) = Models(variant);
        using var _ = model; using var __ = reference;
        using var noGrad = no_grad();
        var ids = tensor(Ids).unsqueeze(0);                                                           // (1, T)
        var expected = reference.forward(ids)[0];                                                     // (T, V) float32
        using var moduleCache = new KVCache(model.Config, 1, Ids.Length, ScalarType.BFloat16, CPU);
        using var stepCache = new KVCache(model.Config, 1, Ids.Length, ScalarType.BFloat16, CPU);
        using var decoder = SingleTokenDecoder.TryCreate(model, stepCache);
        Assert.NotNull(decoder);
        double moduleError = 0, stepError = 0;
        for (int t = 0; t < Ids.Length; t++)
        {
            var modules = model.NextTokenLogits(ids.narrow(1, t, 1), null, moduleCache).to_type(ScalarType.Float32)[0];
            var step = decoder!.NextTokenLogits(Ids[t])[0];
            moduleError = Math.Max(moduleError, (modules - expected[t]).abs().max().item<float>());
            stepError = Math.Max(stepError, (step - expected[t]).abs().max().item<float>());
        }
        Assert.Equal(Ids.Length, stepCache.Length);
        Console.WriteLine($"{variant}: steps {stepError}, modules {moduleError}, scale {expected.abs().max().item<float>()}");
        Assert.True(stepError < moduleError, $"steps differ by {stepError} from float32, the bfloat16 modules by {moduleError}");
    }
}
