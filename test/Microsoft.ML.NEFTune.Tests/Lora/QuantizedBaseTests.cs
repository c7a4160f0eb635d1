using Microsoft.ML.NEFTune.Lora;
using Microsoft.ML.NEFTune.Quantization;
using TorchSharp;
using static Microsoft.ML.NEFTune.Tests.Lora.LoraTestModels;
using static TorchSharp.torch;
using LoraApi = Microsoft.ML.NEFTune.Lora.LoraAdapters;

namespace Microsoft.ML.NEFTune.Tests.Lora;

public class QuantizedBaseTests
{
    private static Tensor RandomWeight(long rows, long cols, long seed)
    {
        var generator = new Generator((ulong)seed);
        var w = randn(new[] { rows, cols }, generator: generator).mul_(0.02);
        using (no_grad()) w[0, 5] = tensor(0.5f);                    // an outlier: its block's absmax is large
        return w;
    }

    private static float[] Values(Tensor t) => t.contiguous().data<float>().ToArray();

    /// <summary>
    /// Independent float64 NF4 reference: per block of 64 (row-major, zero-padded) the absmax, and each value replaced by
    /// absmax times the code-book entry nearest to value / absmax, found by scanning all 16 entries.
    /// </summary>
    private static double[] Nf4Reference(float[] w)
    {
        var result = new double[w.Length];
        for (int start = 0; start < w.Length; start += Nf4Linear.BlockSize)
        {
            int end = Math.Min(w.Length, start + Nf4Linear.BlockSize);
            double absmax = 0;
            for (int i = start; i < end; i++) absmax = Math.Max(absmax, Math.Abs((double)w[i]));
            for (int i = start; i < end; i++)
            {
                double x = absmax == 0 ? 0 : w[i] / absmax, best = double.MaxValue, code = 0;
                foreach (float c in Nf4Linear.CodeBook)
                    if (Math.Abs(x - c) < best) { best = Math.Abs(x - c); code = c; }
                result[i] = code * absmax;
            }
        }
        return result;
    }

    /// <summary>Independent float64 int8 reference: per row scale = absmax / 127, value = round(w / scale) · scale.</summary>
    private static double[] Int8Reference(float[] w, int cols)
    {
        var result = new double[w.Length];
        for (int r = 0; r < w.Length / cols; r++)
        {
            double scale = Enumerable.Range(r * cols, cols).Max(i => Math.Abs((double)w[i])) / 127;
            for (int i = r * cols; i < (r + 1) * cols; i++) result[i] = Math.Round(w[i] / scale, MidpointRounding.ToEven) * scale;
        }
        return result;
    }

    [Fact]
    public void Nf4CodeBookIsTheQLoRAOne()
    {
        Assert.Equal(16, Nf4Linear.CodeBook.Length);
        Assert.Equal(-1f, Nf4Linear.CodeBook[0]);
        Assert.Equal(0f, Nf4Linear.CodeBook[7]);
        Assert.Equal(1f, Nf4Linear.CodeBook[15]);
        Assert.Equal(0.07958029955625534f, Nf4Linear.CodeBook[8]);
        Assert.Equal(-0.6961928009986877f, Nf4Linear.CodeBook[1]);
        Assert.True(Nf4Linear.CodeBook.Zip(Nf4Linear.CodeBook.Skip(1)).All(p => p.First < p.Second));
        Assert.Equal(1 - 0.6961928009986877, Nf4Linear.LargestCodeGap, 6);
    }

    [Fact]
    public void Nf4StoresTheNearestCodeOfEveryValueAndEachBlocksAbsmax()
    {
        using var w = RandomWeight(48, 96, seed: 1);                  // 4608 weights = 72 blocks of 64
        using var q = new Nf4Linear(w);
        using var back = q.Dequantize();
        Assert.Equal(w.shape, back.shape);
        Assert.Equal(ScalarType.Byte, q.PackedCodes.dtype);
        Assert.Equal(w.numel() / 2, q.PackedCodes.numel());          // two codes per byte
        Assert.Equal(w.numel() / Nf4Linear.BlockSize, q.BlockAbsmax.numel());

        var weights = Values(w);
        var expected = Nf4Reference(weights);
        var actual = Values(back);
        var absmax = Values(q.BlockAbsmax);
        for (int i = 0; i < weights.Length; i++)
        {
            double reference = weights.Skip(i / 64 * 64).Take(64).Max(v => Math.Abs((double)v));
            Assert.True(Math.Abs(absmax[i / 64] - reference) <= 1e-7 * reference, $"block {i / 64}: absmax {absmax[i / 64]}, expected {reference}");
            Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-6 * reference,
                $"weight {i} = {weights[i]}: dequantized {actual[i]}, nearest code gives {expected[i]} (block absmax {reference})");
        }
    }

    [Fact]
    public void Nf4PacksTheFirstCodeOfEachPairInTheHighNibble()
    {
        // One block: value i/… chosen to land exactly on code i, so the codes are 0..15 repeated.
        var values = Enumerable.Range(0, 64).Select(i => Nf4Linear.CodeBook[i % 16]).ToArray();
        using var w = tensor(values).view(2, 32);
        using var q = new Nf4Linear(w);
        var bytes = q.PackedCodes.data<byte>().ToArray();
        Assert.Equal(0x01, bytes[0]);
        Assert.Equal(0x23, bytes[1]);
        Assert.Equal(0xEF, bytes[7]);
        using var back = q.Dequantize();
        Assert.Equal(0, MaxAbsDifference(back, w));
    }

    [Fact]
    public void Nf4HandlesSizesThatAreNotAMultipleOfTheBlock()
    {
        using var w = RandomWeight(5, 13, seed: 2);                   // 65 weights: one full block and one of a single value
        using var q = new Nf4Linear(w);
        using var back = q.Dequantize();
        Assert.Equal(new long[] { 5, 13 }, back.shape);
        var expected = Nf4Reference(Values(w));
        var actual = Values(back);
        Assert.All(Enumerable.Range(0, actual.Length), i => Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-6, $"weight {i}: {actual[i]} vs {expected[i]}"));
    }

    [Fact]
    public void Int8StoresEachWeightRoundedToItsRowsScale()
    {
        using var w = RandomWeight(40, 70, seed: 3);
        using var q = new Int8Linear(w);
        using var back = q.Dequantize();
        Assert.Equal(ScalarType.Int8, q.Codes.dtype);
        var expected = Int8Reference(Values(w), 70);
        var actual = Values(back);
        var scales = Values(q.Scales);
        Assert.All(Enumerable.Range(0, actual.Length), i =>
            Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-6 * scales[i / 70] * 127, $"weight {i}: {actual[i]} vs {expected[i]}"));
    }

    [Theory]
    [InlineData(BaseQuantization.Int8)]
    [InlineData(BaseQuantization.Nf4)]
    public void QuantizedForwardMatchesAFloat64LinearOverTheReferenceQuantizedWeight(BaseQuantization kind)
    {
        using var w = RandomWeight(24, 64, seed: 4);
        using var b = randn(24, generator: new Generator(5));
        using var q = QuantizedLinear.Create(kind, w, b);
        using var x = randn(new long[] { 3, 7, 64 }, generator: new Generator(6));
        using var y = q.call(x);
        var reference = kind == BaseQuantization.Nf4 ? Nf4Reference(Values(w)) : Int8Reference(Values(w), 64);
        using var w64 = tensor(reference, ScalarType.Float64).view(24, 64);
        using var expected = nn.functional.linear(x.to_type(ScalarType.Float64), w64, b.to_type(ScalarType.Float64));
        using var diff = (y.to_type(ScalarType.Float64) - expected).abs().max();
        Assert.True(diff.ToDouble() < 1e-4, $"max |y - y_ref| = {diff.ToDouble()}");
    }

    [Fact]
    public void ConvertingTheModelsDtypeKeepsTheQuantizedStorage()
    {
        using var model = TinyModels.Create();
        LoraApi.Apply(model, new LoraOptions { QuantizeBase = BaseQuantization.Nf4 }, seed: 1);
        model.to(ScalarType.Float32);
        model.to(ScalarType.BFloat16);
        var buffers = model.named_buffers().ToList();
        Assert.Contains(buffers, b => b.name == "model.layers.0.self_attn.q_proj.base_layer.weight" && b.buffer.dtype == ScalarType.Byte);
        Assert.Contains(buffers, b => b.name == "model.layers.0.mlp.down_proj.weight" && b.buffer.dtype == ScalarType.Byte);
        Assert.All(buffers.Where(b => b.name.EndsWith("absmax")), b => Assert.Equal(ScalarType.Float32, b.buffer.dtype));
        using var logits = Logits(model);                              // bfloat16 compute over NF4 storage
        Assert.Equal(ScalarType.BFloat16, logits.dtype);
        Assert.True(logits.isfinite().all().ToBoolean());
    }

    [Fact]
    public void Nf4BaseTakesUnderAThirdOfTheFloat32BaseMemory()
    {
        using var fp32 = TinyModels.Create();
        using var int8 = TinyModels.Create();
        using var nf4 = TinyModels.Create();
        long fp32Bytes = ModelMemory.StoredBytes(fp32);
        LoraApi.Apply(int8, new LoraOptions { QuantizeBase = BaseQuantization.Int8, TargetModules = LoraOptions.AllProjections }, seed: 1);
        LoraApi.Apply(nf4, new LoraOptions { QuantizeBase = BaseQuantization.Nf4, TargetModules = LoraOptions.AllProjections }, seed: 1);
        long adapterBytes = LoraApi.AdapterParameters(nf4).Sum(p => p.Parameter.numel() * 4);
        long nf4Base = ModelMemory.StoredBytes(nf4) - adapterBytes, int8Base = ModelMemory.StoredBytes(int8) - adapterBytes;
        Assert.True(nf4Base * 3 < fp32Bytes, $"nf4 base {nf4Base} B vs float32 {fp32Bytes} B");
        Assert.True(nf4Base < int8Base && int8Base < fp32Bytes / 2, $"int8 base {int8Base} B");
    }
}
