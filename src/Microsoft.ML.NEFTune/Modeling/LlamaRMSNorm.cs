using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>Root-mean-square layer norm: <c>y = x / sqrt(mean(x²) + eps) · weight</c>, computed in float32.</summary>
public sealed class LlamaRMSNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Scalar eps;   // held for the module's life (see HeldScalars)

    public LlamaRMSNorm(int size, double eps, ScalarType dtype = ScalarType.Float32) : base(nameof(LlamaRMSNorm))
    {
        weight = nn.Parameter(ones(size, dtype));
        this.eps = eps;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var x32 = x.to_type(ScalarType.Float32);                                    // (B, T, C)
        var normed = x32 * rsqrt(x32.square().mean(new long[] { -1 }, keepdim: true).add(eps, HeldScalars.One));   // x / sqrt(mean(x²) + eps)
        return (weight * normed.to_type(x.dtype)).MoveToOuterDisposeScope();
    }
}
