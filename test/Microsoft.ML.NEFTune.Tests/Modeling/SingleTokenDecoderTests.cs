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
        Assert.True(stepError < moduleError, $"steps differ by {stepError} from float32, the bfloat16 modules by {moduleError}");
    }

    [Fact]
    public void Float32StepsMatchTheFloat32ModulesToFloat32Rounding()
    {
        using var scope = NewDisposeScope();
        var (_, model) = Models("gqa");
        using var __ = model;
        using var noGrad = no_grad();
        var ids = tensor(Ids).unsqueeze(0);
        var expected = model.forward(ids)[0];                                                         // (T, V)
        using var cache = new KVCache(model.Config, 1, Ids.Length, ScalarType.Float32, CPU);
        model.NextTokenLogits(ids.narrow(1, 0, 5), null, cache);                                     // prefill through the modules
        using var decoder = SingleTokenDecoder.TryCreate(model, cache);
        Assert.NotNull(decoder);
        double worst = 0, scale = expected.abs().max().item<float>();
        for (int t = 5; t < Ids.Length; t++) worst = Math.Max(worst, (decoder!.NextTokenLogits(Ids[t])[0] - expected[t]).abs().max().item<float>());
        Assert.True(worst <= 1e-5 * scale, $"largest difference {worst} for logits up to {scale}");
    }

    [Fact]
    public void RefusesModelsItWouldNotComputeAsTheModulesDo()
    {
        LlamaForCausalLM Tiny(Action<LlamaConfig>? change = null)
        {
            var config = TinyModels.Config();
            change?.Invoke(config);
            return new LlamaForCausalLM(config);
        }
        SingleTokenDecoder? Create(LlamaForCausalLM model, ScalarType dtype, long batch = 1)
        {
            using var cache = new KVCache(model.Config, batch, 8, dtype, CPU);
            return SingleTokenDecoder.TryCreate(model, cache);
        }
        using (var plain = Tiny()) Assert.NotNull(Create(plain, ScalarType.Float32));
        using (var plain = Tiny()) Assert.Null(Create(plain, ScalarType.Float32, batch: 2));                          // one sequence only
        using (var plain = Tiny()) Assert.Null(Create(plain, ScalarType.BFloat16));                                   // cache of another dtype
        using (var half = Tiny()) { half.to(ScalarType.Float16); Assert.Null(Create(half, ScalarType.Float16)); }
        using (var dynamic = Tiny(c => c.RopeScaling = new RopeScaling("dynamic", Factor: 2))) Assert.Null(Create(dynamic, ScalarType.Float32));
        using (var adapted = Tiny())
        {
            LoraAdapters.Apply(adapted, new LoraOptions { Rank = 2 }, seed: 1);
            Assert.Null(Create(adapted, ScalarType.Float32));
        }
    }
}
