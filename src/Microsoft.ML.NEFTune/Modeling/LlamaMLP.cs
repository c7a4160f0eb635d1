using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>SwiGLU feed-forward: <c>down(silu(gate(x)) · up(x))</c>.</summary>
public sealed class LlamaMLP : nn.Module<Tensor, Tensor>
{
    private nn.Module<Tensor, Tensor> gate_proj;
    private nn.Module<Tensor, Tensor> up_proj;
    private nn.Module<Tensor, Tensor> down_proj;

    public LlamaMLP(LlamaConfig config, ScalarType dtype = ScalarType.Float32) : base(nameof(LlamaMLP))
    {
        gate_proj = nn.Linear(config.HiddenSize, config.IntermediateSize, hasBias: false, dtype: dtype);
        up_proj = nn.Linear(config.HiddenSize, config.IntermediateSize, hasBias: false, dtype: dtype);
        down_proj = nn.Linear(config.IntermediateSize, config.HiddenSize, hasBias: false, dtype: dtype);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var gate = SingleRowProduct.Project(gate_proj, x);          // (B, T, I)
        using var act = nn.functional.silu(gate);
        using var up = SingleRowProduct.Project(up_proj, x);              // (B, T, I)
        using var h = act * up;
        return SingleRowProduct.Project(down_proj, h);                    // (B, T, C)
    }
}
