using Microsoft.ML.NEFTune.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.Modeling;

public class ModuleReplacementTests
{
    private sealed class Block : nn.Module<Tensor, Tensor>
    {
        private nn.Module<Tensor, Tensor> proj = nn.Linear(4, 4, hasBias: false);
        private readonly Linear fixedProj = nn.Linear(4, 4, hasBias: false);
        public Block() : base(nameof(Block)) => RegisterComponents();
        public override Tensor forward(Tensor x) => fixedProj.forward(proj.forward(x));
    }

    private sealed class Outer : nn.Module<Tensor, Tensor>
    {
        private readonly Block block = new();
        public Outer() : base(nameof(Outer)) => RegisterComponents();
        public override Tensor forward(Tensor x) => block.forward(x);
    }

    /// <summary>A module of another type than the one it replaces, with a parameter of the same name.</summary>
    private sealed class Doubled : nn.Module<Tensor, Tensor>
    {
        private readonly Parameter weight;
        public Doubled(Parameter weight) : base(nameof(Doubled)) { this.weight = weight; RegisterComponents(); }
        public override Tensor forward(Tensor x) => 2 * nn.functional.linear(x, weight);
    }

    [Fact]
    public void ReplacementRunsInForwardAndKeepsEveryStateDictKey()
    {
        using var model = new Outer();
        model.eval();
        var keys = model.state_dict().Keys.ToList();
        using var x = ones(1, 4);
        using var before = model.forward(x);
        var (parent, name, child) = ModuleReplacement.Find(model, "block.proj");

        ModuleReplacement.Replace(parent, name, child, new Doubled(((Linear)child).weight!));

        Assert.Equal(keys, model.state_dict().Keys.ToList());
        Assert.IsType<Doubled>(ModuleReplacement.Find(model, "block.proj").Child);
        Assert.False(ModuleReplacement.Find(model, "block.proj").Child.training);       // takes the replaced module's mode
        using var after = model.forward(x);
        Assert.True(after.allclose(2 * before, rtol: 1e-6, atol: 1e-6));
    }

    [Fact]
    public void AFieldTypedTooNarrowlyIsRefusedByName()
    {
        using var model = new Outer();
        var (parent, name, child) = ModuleReplacement.Find(model, "block.fixedProj");

        var e = Assert.Throws<InvalidOperationException>(() => ModuleReplacement.Replace(parent, name, child, new Doubled(((Linear)child).weight!)));

        Assert.Contains("Block.fixedProj is typed Linear", e.Message);
        Assert.IsType<Linear>(ModuleReplacement.Find(model, "block.fixedProj").Child);
    }

    [Fact]
    public void AnUnknownPathIsAnErrorNamingIt()
    {
        using var model = new Outer();
        var e = Assert.Throws<ArgumentException>(() => ModuleReplacement.Find(model, "block.nothing"));
        Assert.Contains("block.nothing", e.Message);
    }
}
