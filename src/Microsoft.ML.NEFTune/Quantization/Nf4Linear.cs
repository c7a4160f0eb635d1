using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Quantization;

/// <summary>
/// A frozen linear layer stored in QLoRA's 4-bit NormalFloat (NF4): the weight, read row-major, is cut into blocks
/// of <see cref="BlockSize"/> values; each block keeps its absmax (float32) and each value the index of the nearest
/// of the 16 <see cref="CodeBook"/> values to <c>w / absmax</c>. Two indices are packed per byte, the first in the
/// high nibble (bitsandbytes' order). The forward pass dequantizes the weight into the input's dtype.
/// </summary>
public sealed class Nf4Linear : QuantizedLinear
{
    /// <summary>Weights per absmax block.</summary>
    public const int BlockSize = 64;

    /// <summary>The NF4 values (Dettmers et al. 2023, bitsandbytes <c>get_4bit_type("nf4")</c>), ascending.</summary>
    public static readonly float[] CodeBook =
    {
        -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
        -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
        0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
        0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
    };

    /// <summary>The largest distance between adjacent code-book values (between −1 and the next value).</summary>
    public static double LargestCodeGap => CodeBook.Zip(CodeBook.Skip(1)).Max(p => (double)p.Second - p.First);

    private static readonly Dictionary<string, Tensor> CodeBooks = new();

    private Tensor weight;
    private Tensor weight_absmax;
    private Tensor? bias;

    /// <summary>The code book as a float32 tensor on <paramref name="device"/> (one shared copy per device).</summary>
    private static Tensor CodeBookOn(Device device)
    {
        lock (CodeBooks)
        {
            var key = device.ToString();
            if (!CodeBooks.TryGetValue(key, out var t))
                CodeBooks[key] = t = tensor(CodeBook, device: device).DetachFromDisposeScope();
            return t;
        }
    }

    /// <param name="weight">(out, in) floating-point weight; it is not modified.</param>
    /// <param name="bias">Optional (out) bias, kept in float32.</param>
    public Nf4Linear(Tensor weight, Tensor? bias = null) : base(nameof(Nf4Linear), weight.shape[1], weight.shape[0])
    {
        if (weight.dim() != 2) throw new ArgumentException("The weight must be 2-D (out, in).", nameof(weight));
        var code_book = CodeBookOn(weight.device);
        using (no_grad())
        using (NewDisposeScope())
        {
            long n = weight.numel(), blocks = (n + BlockSize - 1) / BlockSize;
            var flat = weight.detach().to_type(ScalarType.Float32).reshape(-1);
            if (blocks * BlockSize != n) flat = nn.functional.pad(flat, new long[] { 0, blocks * BlockSize - n });
            var grid = flat.view(blocks, BlockSize);                                                  // (blocks, 64)
            var absmax = grid.abs().amax(new long[] { 1 });                                           // (blocks)
            var normalized = grid.div(absmax.clamp_min(1e-12).unsqueeze(1));                         // in [-1, 1]
            var midpoints = code_book.narrow(0, 0, 15).add(code_book.narrow(0, 1, 15)).div_(2);      // (15) decision thresholds
            var codes = searchsorted(midpoints, normalized.reshape(-1).contiguous()).to_type(ScalarType.Byte);   // nearest code index, (blocks·64)
            var pairs = codes.view(-1, 2);
            var packed = pairs.select(1, 0).mul(16).bitwise_or_(pairs.select(1, 1));   // (blocks·32) uint8
            this.weight = packed.contiguous().DetachFromDisposeScope();
            weight_absmax = absmax.contiguous().DetachFromDisposeScope();
        }
        this.bias = CopyBias(bias);
        RegisterComponents();
    }

    private Nf4Linear(Nf4Linear source) : base(nameof(Nf4Linear), source.InFeatures, source.OutFeatures)
    {
        weight = source.weight.alias();
        weight_absmax = source.weight_absmax.alias();
        bias = source.bias?.alias();
        RegisterComponents();
    }

    public override BaseQuantization Kind => BaseQuantization.Nf4;
    public override Tensor? Bias => bias;

    /// <summary>Packed 4-bit codes, two per byte (uint8, numel/2 rounded up to whole blocks).</summary>
    public Tensor PackedCodes => weight;

    /// <summary>One absmax per block of <see cref="BlockSize"/> weights (float32).</summary>
    public Tensor BlockAbsmax => weight_absmax;

    public override Tensor Dequantize(ScalarType dtype = ScalarType.Float32)
    {
        if (CpuDequantization.Applies(weight.device, dtype))
            return CpuDequantization.Nf4(weight, weight_absmax, CodeBook, BlockSize, OutFeatures, InFeatures, dtype);
        return DequantizeByTensorOperations(dtype);
    }

    /// <summary>The reconstruction through tensor operations (any device; on the CPU <see cref="CpuDequantization"/> gives the same bits).</summary>
    internal Tensor DequantizeByTensorOperations(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var pairs = PairTableOn(weight.device).index_select(0, weight.to_type(ScalarType.Int32));   // (blocks·32, 2): a byte's two values
        var values = pairs.view(-1, BlockSize);                                                     // (blocks, 64)
        var w = values.mul_(weight_absmax.unsqueeze(1)).reshape(-1).narrow(0, 0, OutFeatures * InFeatures);
        return w.view(OutFeatures, InFeatures).to_type(dtype).MoveToOuterDisposeScope();
    }

    private static readonly Dictionary<string, Tensor> PairTables = new();

    /// <summary>(256, 2) float32: for each packed byte, the code-book values of its high and low nibble.</summary>
    private static Tensor PairTableOn(Device device)
    {
        lock (PairTables)
        {
            var key = device.ToString();
            if (!PairTables.TryGetValue(key, out var t))
            {
                var values = new float[512];
                for (int b = 0; b < 256; b++) { values[2 * b] = CodeBook[b >> 4]; values[2 * b + 1] = CodeBook[b & 15]; }
                PairTables[key] = t = tensor(values, new long[] { 256, 2 }, device: device).DetachFromDisposeScope();
            }
            return t;
        }
    }

    public override QuantizedLinear Share() => new Nf4Linear(this);
}
