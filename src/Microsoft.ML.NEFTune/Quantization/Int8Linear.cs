using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Quantization;

/// <summary>
/// A frozen linear layer stored as int8 with one scale per output channel (absmax quantization):
/// <c>scale[o] = max|W[o,:]| / 127</c>, <c>q = round(W / scale)</c>, so each weight is recovered to within
/// <c>scale / 2</c>. The forward pass computes <c>(x · qᵀ) · scale + bias</c> in the input's dtype.
/// </summary>
public sealed class Int8Linear : QuantizedLinear
{
    private Tensor weight;
    private Tensor weight_scale;
    private Tensor? bias;

    /// <param name="weight">(out, in) floating-point weight; it is not modified.</param>
    /// <param name="bias">Optional (out) bias, kept in float32.</param>
    public Int8Linear(Tensor weight, Tensor? bias = null) : base(nameof(Int8Linear), weight.shape[1], weight.shape[0])
    {
        if (weight.dim() != 2) throw new ArgumentException("The weight must be 2-D (out, in).", nameof(weight));
        using (no_grad())
        using (NewDisposeScope())
        {
            var w = weight.detach().to_type(ScalarType.Float32);
            var scale = w.abs().amax(new long[] { 1 }).div_(127.0).clamp_min_(1e-12);                 // (out)
            this.weight = w.div(scale.unsqueeze(1)).round_().clamp_(-127, 127).to_type(ScalarType.Int8).DetachFromDisposeScope();
            weight_scale = scale.DetachFromDisposeScope();
        }
        this.bias = CopyBias(bias);
        RegisterComponents();
    }

    private Int8Linear(Int8Linear source) : base(nameof(Int8Linear), source.InFeatures, source.OutFeatures)
    {
        weight = source.weight.alias();
        weight_scale = source.weight_scale.alias();
        bias = source.bias?.alias();
        RegisterComponents();
    }

    public override BaseQuantization Kind => BaseQuantization.Int8;
    public override Tensor? Bias => bias;

    /// <summary>The int8 codes (out, in).</summary>
    public Tensor Codes => weight;

    /// <summary>The per-output-channel scales (out), float32.</summary>
    public Tensor Scales => weight_scale;

    public override Tensor Dequantize(ScalarType dtype = ScalarType.Float32)
    {
        if (CpuDequantization.Applies(weight.device, dtype))
            return CpuDequantization.Int8(weight, weight_scale, OutFeatures, InFeatures, dtype);
        return DequantizeByTensorOperations(dtype);
    }

    /// <summary>The reconstruction through tensor operations (any device; on the CPU <see cref="CpuDequantization"/> gives the same bits).</summary>
    internal Tensor DequantizeByTensorOperations(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        return weight.to_type(ScalarType.Float32).mul_(weight_scale.unsqueeze(1)).to_type(dtype).MoveToOuterDisposeScope();
    }

    public override QuantizedLinear Share() => new Int8Linear(this);
}
