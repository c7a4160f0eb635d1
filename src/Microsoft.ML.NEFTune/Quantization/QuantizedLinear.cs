using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Quantization;

/// <summary>
/// A frozen linear layer whose weight is stored quantized and dequantized on the fly in <c>forward</c>.
/// It holds buffers only (no parameters), so no optimizer sees it. Converting the module to another dtype leaves
/// the quantized storage as it is; the forward pass computes in the dtype of its input.
/// </summary>
public abstract class QuantizedLinear : nn.Module<Tensor, Tensor>
{
    protected QuantizedLinear(string name, long inFeatures, long outFeatures) : base(name)
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
    }

    public long InFeatures { get; }
    public long OutFeatures { get; }

    /// <summary>The kind of storage.</summary>
    public abstract BaseQuantization Kind { get; }

    /// <summary>The bias (float32, frozen) or null.</summary>
    public abstract Tensor? Bias { get; }

    /// <summary>The weight (out, in) reconstructed from the quantized storage, in <paramref name="dtype"/>.</summary>
    public abstract Tensor Dequantize(ScalarType dtype = ScalarType.Float32);

    /// <summary>A module over the same storage (new tensor handles, no copy), for a second model that computes with it.</summary>
    public abstract QuantizedLinear Share();

    /// <summary>The device of the stored tensors.</summary>
    public Device Device => named_buffers().First().buffer.device;

    /// <summary>Bytes held by the module's tensors.</summary>
    public long StoredBytes => named_buffers().Sum(b => b.buffer.numel() * b.buffer.ElementSize);

    /// <summary>Quantizes a weight (out, in) and an optional bias into the given storage kind.</summary>
    public static QuantizedLinear Create(BaseQuantization kind, Tensor weight, Tensor? bias) => kind switch
    {
        BaseQuantization.Int8 => new Int8Linear(weight, bias),
        BaseQuantization.Nf4 => new Nf4Linear(weight, bias),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Only Int8 and Nf4 are quantized storage kinds."),
    };

    /// <summary>
    /// <c>x · Wᵀ + bias</c> in the input's dtype. When a gradient with respect to <paramref name="x"/> is needed, the
    /// product runs through <see cref="FrozenQuantizedProduct"/>, which dequantizes W again in backward instead of
    /// keeping a dequantized copy alive.
    /// </summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor y;
        if (x.requires_grad && is_grad_enabled()) y = FrozenQuantizedProduct.apply(x, this);   // (…, out)
        else
        {
            using var w = Dequantize(x.dtype);                                                     // (out, in)
            y = nn.functional.linear(x, w);
        }
        return AddBias(y, x).MoveToOuterDisposeScope();
    }

    protected static Tensor? CopyBias(Tensor? bias) =>
        bias is null ? null : bias.detach().to_type(ScalarType.Float32).clone();

    protected Tensor AddBias(Tensor y, Tensor x)
    {
        if (Bias is null) return y;
        using var b = Bias.to_type(x.dtype);
        return y.add_(b);
    }

    protected override nn.Module _to(ScalarType dtype, bool non_blocking) => this;

    protected override nn.Module _to(Device device, ScalarType dtype, bool non_blocking) => _to(device.type, device.index, non_blocking);
}

/// <summary>How the frozen linear layers of a base model are stored.</summary>
public enum BaseQuantization
{
    /// <summary>Unchanged floating-point weights.</summary>
    None,

    /// <summary>int8 with one absmax scale per output channel (<see cref="Int8Linear"/>).</summary>
    Int8,

    /// <summary>4-bit NormalFloat with one absmax per block of 64 weights (<see cref="Nf4Linear"/>), the QLoRA data type.</summary>
    Nf4,
}
