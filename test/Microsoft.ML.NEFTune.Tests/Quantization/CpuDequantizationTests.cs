using Microsoft.ML.NEFTune.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.Quantization;

public class CpuDequantizationTests
{
    private static Tensor Weight(long rows, long columns, ulong seed)
    {
        var w = randn(new[] { rows, columns }, generator: new Generator(seed)).mul_(0.02);
        using (no_grad()) w[0, 1] = tensor(0.7f);        // one large block
        return w;
    }

    private static void AssertSameBits(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(expected.contiguous().bytes.ToArray(), actual.contiguous().bytes.ToArray());
    }

    // 37 × 29 = 1073 values: 16 whole blocks of 64, a partial last block of 49 and an odd count; 300 × 256 spans both workers.
    [Theory]
    [InlineData(37, 29, ScalarType.Float32)]
    [InlineData(37, 29, ScalarType.BFloat16)]
    [InlineData(300, 256, ScalarType.Float32)]
    [InlineData(300, 256, ScalarType.BFloat16)]
    public void Nf4KernelGivesTheBitsOfTheTensorPath(long rows, long columns, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        using var layer = new Nf4Linear(Weight(rows, columns, 3));
        AssertSameBits(layer.DequantizeByTensorOperations(dtype), layer.Dequantize(dtype));
    }

    [Theory]
    [InlineData(37, 29, ScalarType.Float32)]
    [InlineData(37, 29, ScalarType.BFloat16)]
    [InlineData(300, 256, ScalarType.BFloat16)]
    public void Int8KernelGivesTheBitsOfTheTensorPath(long rows, long columns, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        using var layer = new Int8Linear(Weight(rows, columns, 4));
        AssertSameBits(layer.DequantizeByTensorOperations(dtype), layer.Dequantize(dtype));
    }

    [Fact]
    public void OtherDTypesUseTheTensorPath()
    {
        using var scope = NewDisposeScope();
        using var layer = new Nf4Linear(Weight(8, 64, 5));
        Assert.False(CpuDequantization.Applies(layer.Device, ScalarType.Float64));
        AssertSameBits(layer.DequantizeByTensorOperations(ScalarType.Float64), layer.Dequantize(ScalarType.Float64));
    }
}
