using Microsoft.ML.NEFTune.Lora;
using Microsoft.ML.NEFTune.Quantization;
using TorchSharp;
using TorchSharp.Modules;
using static Microsoft.ML.NEFTune.Tests.Lora.LoraTestModels;
using static TorchSharp.torch;
using LoraApi = Microsoft.ML.NEFTune.Lora.LoraAdapters;

namespace Microsoft.ML.NEFTune.Tests.Lora;

public class LoraAdapterTests
{
    [Theory]
    [InlineData("q,k,v,o", BaseQuantization.None)]
    [InlineData("all", BaseQuantization.None)]
    [InlineData("all", BaseQuantization.Nf4)]
    public void TrainableParameterCountEqualsTheAdapterSize(string targets, BaseQuantization quantization)
    {
        using var model = TinyModels.Create();
        var config = model.Config;
        var options = new LoraOptions { Rank = 4, TargetModules = LoraOptions.ParseTargets(targets), QuantizeBase = quantization };
        var adapters = LoraApi.Apply(model, options, seed: 1);

        long c = config.HiddenSize, q = config.NumAttentionHeads * config.HeadDim, kv = config.NumKeyValueHeads * config.HeadDim, f = config.IntermediateSize;
        var shapes = new Dictionary<string, (long In, long Out)>
        {
            ["q_proj"] = (c, q), ["k_proj"] = (c, kv), ["v_proj"] = (c, kv), ["o_proj"] = (q, c),
            ["gate_proj"] = (c, f), ["up_proj"] = (c, f), ["down_proj"] = (f, c),
        };
        long expected = config.NumHiddenLayers * options.TargetModules.Sum(t => options.Rank * (shapes[t].In + shapes[t].Out));

        Assert.Equal(expected, adapters.Sum(p => p.numel()));
        Assert.Equal(expected, model.parameters().Where(p => p.requires_grad).Sum(p => p.numel()));
        Assert.Equal(2 * config.NumHiddenLayers * options.TargetModules.Count, adapters.Count);
        Assert.False(model.Model.EmbeddingWeight.requires_grad);
        Assert.All(model.named_parameters().Where(p => p.name.Contains("norm")), p => Assert.False(p.parameter.requires_grad));
    }

    [Fact]
    public void AFreshAdapterLeavesTheOutputUnchangedAndInitialisesLikePeft()
    {
        using var model = TinyModels.Create(seed: 3);
        using var before = Logits(model);
        LoraApi.Apply(model, new LoraOptions(), seed: 7);
        using var after = Logits(model);
        Assert.Equal(0, MaxAbsDifference(before, after));
        foreach (var (_, adapter) in LoraApi.Adapters(model))
        {
            double bound = 1 / Math.Sqrt(adapter.InFeatures);
            Assert.InRange(adapter.LoraA.abs().max().ToDouble(), bound / 2, bound);   // kaiming-uniform(a=√5): U(−1/√in, 1/√in)
            Assert.Equal(0, adapter.LoraB.abs().max().ToDouble());
        }
        Assert.Contains(model.named_parameters(), p => p.name == "model.layers.0.self_attn.q_proj.base_layer.weight");
        Assert.Contains(model.named_parameters(), p => p.name == "model.layers.1.self_attn.o_proj.lora_B.weight");
        Assert.Contains(model.named_parameters(), p => p.name == "model.layers.0.mlp.up_proj.weight");
    }

    [Fact]
    public void TheSameSeedGivesTheSameAdapters()
    {
        using var a = TinyModels.Create();
        using var b = TinyModels.Create();
        var pa = LoraApi.Apply(a, new LoraOptions(), seed: 5);
        var pb = LoraApi.Apply(b, new LoraOptions(), seed: 5);
        Assert.All(pa.Zip(pb), p => Assert.Equal(0, MaxAbsDifference(p.First, p.Second)));
    }

    [Theory]
    [InlineData(BaseQuantization.None, "q,k,v,o")]
    [InlineData(BaseQuantization.None, "all")]
    [InlineData(BaseQuantization.Int8, "all")]
    [InlineData(BaseQuantization.Nf4, "q,v")]
    public void MergedModelGivesTheLogitsOfBasePlusAdapter(BaseQuantization quantization, string targets)
    {
        using var model = TinyModels.Create(seed: 4, tied: false);
        LoraApi.Apply(model, new LoraOptions { TargetModules = LoraOptions.ParseTargets(targets), QuantizeBase = quantization }, seed: 2);
        RandomizeAdapters(model, seed: 8);
        using var adapted = Logits(model);
        using var unchanged = TinyModels.Create(seed: 4, tied: false);
        using var baseLogits = Logits(unchanged);
        Assert.True(MaxAbsDifference(adapted, baseLogits) > 1e-3, "the adapters must change the output for this test to mean anything");

        LoraApi.Merge(model);
        using var merged = Logits(model);
        Assert.True(MaxAbsDifference(merged, adapted) < 1e-5, $"max difference {MaxAbsDifference(merged, adapted)}");
        Assert.False(LoraApi.HasAdapters(model));
        Assert.Equal(unchanged.named_parameters().Select(p => p.name).Order(), model.named_parameters().Select(p => p.name).Order());
        Assert.Empty(model.named_buffers());
        Assert.All(model.parameters(), p => Assert.True(p.requires_grad));
        Assert.All(model.named_modules().Where(m => m.name.EndsWith("_proj")), m => Assert.IsType<Linear>(m.module));
    }

    [Fact]
    public void MergedCopyKeepsTheAdaptersOfTheSource()
    {
        using var model = TinyModels.Create(seed: 6);
        LoraApi.Apply(model, new LoraOptions { QuantizeBase = BaseQuantization.Nf4 }, seed: 1);
        RandomizeAdapters(model, seed: 2);
        using var adapted = Logits(model);
        using var copy = LoraApi.MergedCopy(model);
        using var merged = Logits(copy);
        Assert.True(LoraApi.HasAdapters(model));
        Assert.True(MaxAbsDifference(merged, adapted) < 1e-5);
    }

    [Fact]
    public void DropoutActsOnlyInTrainingMode()
    {
        using var model = TinyModels.Create();
        LoraApi.Apply(model, new LoraOptions { Dropout = 0.5 }, seed: 1);
        RandomizeAdapters(model, seed: 3);
        using var a = Logits(model);
        using var b = Logits(model);
        Assert.Equal(0, MaxAbsDifference(a, b));
        model.train();
        using var ids = Ids();
        using var t1 = model.forward(ids);
        using var t2 = model.forward(ids);
        Assert.True(MaxAbsDifference(t1, t2) > 0);
    }

    [Fact]
    public void ApplyingTwiceIsRejected()
    {
        using var model = TinyModels.Create();
        LoraApi.Apply(model, new LoraOptions(), seed: 1);
        Assert.Throws<InvalidOperationException>(() => LoraApi.Apply(model, new LoraOptions(), seed: 1));
    }

    [Theory]
    [InlineData("Rank")]
    [InlineData("Alpha")]
    [InlineData("Dropout")]
    [InlineData("TargetModules")]
    public void InvalidOptionsAreRejectedWithTheirName(string name)
    {
        var options = name switch
        {
            "Rank" => new LoraOptions { Rank = 0 },
            "Alpha" => new LoraOptions { Alpha = -1 },
            "Dropout" => new LoraOptions { Dropout = 1 },
            _ => new LoraOptions { TargetModules = new[] { "lm_head" } },
        };
        using var model = TinyModels.Create();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => LoraApi.Apply(model, options, seed: 1));
        Assert.Equal(name, e.ParamName);
        Assert.False(LoraApi.HasAdapters(model));
    }

    [Fact]
    public void TargetListsParseShortNamesAndAll()
    {
        Assert.Equal(new[] { "q_proj", "k_proj", "v_proj", "o_proj" }, LoraOptions.ParseTargets("q,k,v,o"));
        Assert.Equal(LoraOptions.AllProjections, LoraOptions.ParseTargets("all"));
        Assert.Equal(new[] { "q_proj", "v_proj", "down_proj" }, LoraOptions.ParseTargets("down_proj, v,q"));
        Assert.Contains("'x'", Assert.Throws<FormatException>(() => LoraOptions.ParseTargets("q,x")).Message);
        Assert.Equal(BaseQuantization.Nf4, LoraOptions.ParseQuantization("NF4"));
        Assert.Throws<FormatException>(() => LoraOptions.ParseQuantization("fp4"));
    }
}
