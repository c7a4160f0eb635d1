using Microsoft.ML.NEFTune.Generation;
using Microsoft.ML.NEFTune.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.Modeling;

public class SingleRowProductTests
{
    private static Tensor BFloat16(long rows, long columns, ulong seed) =>
        randn(new[] { rows, columns }, generator: new Generator(seed)).to_type(ScalarType.BFloat16);

    /// <summary>x·Wᵀ + b in float64 from the stored bfloat16 values (an independent sum), rounded to bfloat16 once.</summary>
    private static double[] Reference(Tensor x, Tensor w, Tensor? b)
    {
        double[] xs = x.reshape(-1).to_type(ScalarType.Float64).data<double>().ToArray();
        double[] ws = w.to_type(ScalarType.Float64).contiguous().data<double>().ToArray();
        double[]? bs = b?.to_type(ScalarType.Float64).data<double>().ToArray();
        long rows = w.shape[0], columns = w.shape[1];
        var y = new double[rows];
        for (long r = 0; r < rows; r++)
        {
            double s = bs?[r] ?? 0;
            for (long i = 0; i < columns; i++) s += ws[r * columns + i] * xs[i];
            y[r] = s;
        }
        return tensor(y).to_type(ScalarType.BFloat16).to_type(ScalarType.Float64).data<double>().ToArray();
    }

    // Columns 2048 (whole vectors), 37 (a scalar tail); rows 300 (split over the threads) and 7 (a row tail after the blocks of 4).
    [Theory]
    [InlineData(300, 2048, false)]
    [InlineData(7, 37, true)]
    [InlineData(301, 40, true)]
    public void RoundsTheFloatSumOfEachRowToBFloat16(long rows, long columns, bool withBias)
    {
        using var scope = NewDisposeScope();
        var x = BFloat16(1, columns, 1).view(1, 1, columns);
        var w = BFloat16(rows, columns, 2);
        var b = withBias ? BFloat16(1, rows, 3).view(rows) : null;
        Assert.True(SingleRowProduct.Applies(x, w, b));
        var y = SingleRowProduct.Linear(x, w, b);
        Assert.Equal(new[] { 1L, 1, rows }, y.shape);
        Assert.Equal(ScalarType.BFloat16, y.dtype);
        double[] expected = Reference(x, w, b), actual = y.reshape(-1).to_type(ScalarType.Float64).data<double>().ToArray();
        for (int r = 0; r < rows; r++)
        {
            double ulp = Math.Max(Math.Abs(expected[r]), 1e-3) / 128;   // one bfloat16 step (8 significand bits)
            Assert.True(Math.Abs(actual[r] - expected[r]) <= ulp, $"row {r}: {actual[r]} vs {expected[r]}");
        }
    }

    [Fact]
    public void OnlyOneGradientFreeBFloat16RowOnTheCpuApplies()
    {
        using var scope = NewDisposeScope();
        var w = BFloat16(8, 16, 4);
        using (no_grad())
        {
            Assert.False(SingleRowProduct.Applies(BFloat16(2, 16, 5), w));                                  // two rows
            Assert.False(SingleRowProduct.Applies(BFloat16(1, 16, 5).to_type(ScalarType.Float32), w));     // float32 input
            Assert.False(SingleRowProduct.Applies(BFloat16(1, 16, 5), w.to_type(ScalarType.Float32)));     // float32 weight
            Assert.False(SingleRowProduct.Applies(BFloat16(1, 16, 5), BFloat16(16, 8, 6).t()));              // weight not contiguous
        }
        var trainable = BFloat16(8, 16, 4).requires_grad_(true);
        Assert.False(SingleRowProduct.Applies(BFloat16(1, 16, 5), trainable));                            // autograd would need the graph
        using (no_grad()) Assert.True(SingleRowProduct.Applies(BFloat16(1, 16, 5), trainable));
    }

    [Fact]
    public void CachedBFloat16DecodingMatchesTheFullForwardPass()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(seed: 7, vocab: 64, tied: false);
        model.to(ScalarType.BFloat16);
        model.eval();
        using var noGrad = no_grad();
        var ids = tensor(new long[] { 1, 9, 4, 33, 12, 40, 7, 21, 5, 60 }).unsqueeze(0);          // (1, 10)
        var full = model.forward(ids).to_type(ScalarType.Float32)[0];                               // (10, V): products of many rows
        using var cache = new KVCache(model.Config, 1, 10, ScalarType.BFloat16, CPU);
        var prefill = model.NextTokenLogits(ids.narrow(1, 0, 4), null, cache).to_type(ScalarType.Float32)[0];   // (V)
        double scale = full.abs().max().item<float>(), worst = (prefill - full[3]).abs().max().item<float>();
        for (int t = 4; t < 10; t++)
        {
            var row = model.NextTokenLogits(ids.narrow(1, t, 1), null, cache).to_type(ScalarType.Float32)[0];   // one row per product
            worst = Math.Max(worst, (row - full[t]).abs().max().item<float>());
        }
        Assert.True(worst <= 0.02 * scale, $"largest difference {worst} for logits up to {scale}");
    }
}
