using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.Modeling;

public class LinearCrossEntropyTests
{
    private static (Tensor H, Tensor W, Tensor Y) Inputs(ScalarType dtype, long n = 37, long c = 24, long v = 301)
    {
        var g = new Generator(7);
        var h = randn(new[] { n, c }, generator: g).to_type(dtype).requires_grad_();
        var w = (randn(new[] { v, c }, generator: g) * 0.3).to_type(dtype).requires_grad_();
        var y = randint(0, v, new[] { n }, generator: g);
        return (h, w, y);
    }

    [Theory]
    [InlineData(1_000_000)]   // one chunk
    [InlineData(1_000)]       // three rows per chunk, a short last chunk
    [InlineData(1)]           // one row per chunk
    public void LossAndGradientsEqualAutogradOfLinearThenCrossEntropy(long logitsPerChunk)
    {
        using var scope = NewDisposeScope();
        var (h, w, y) = Inputs(ScalarType.Float64);
        var fused = LinearCrossEntropy.Sum(h, w, y, logitsPerChunk);
        var (dh, dw) = Gradients(fused, h, w);
        var reference = nn.functional.cross_entropy(nn.functional.linear(h, w), y, reduction: nn.Reduction.Sum);
        var (rh, rw) = Gradients(reference, h, w);
        Assert.Equal(reference.ToDouble(), fused.ToDouble(), 5);
        Assert.True(dh.allclose(rh, rtol: 1e-6, atol: 1e-6), "∂L/∂h differs");
        Assert.True(dw.allclose(rw, rtol: 1e-6, atol: 1e-6), "∂L/∂W differs");
    }

    [Fact]
    public void Bfloat16InputsGiveTheFloat32LossWithinBfloat16Rounding()
    {
        using var scope = NewDisposeScope();
        var (h, w, y) = Inputs(ScalarType.BFloat16);
        var fused = LinearCrossEntropy.Sum(h, w, y, 1_000);
        var (dh, dw) = Gradients(fused, h, w);
        var h32 = h.detach().to_type(ScalarType.Float32).requires_grad_();
        var w32 = w.detach().to_type(ScalarType.Float32).requires_grad_();
        var reference = nn.functional.cross_entropy(nn.functional.linear(h32, w32), y, reduction: nn.Reduction.Sum);
        var (rh, rw) = Gradients(reference, h32, w32);
        Assert.Equal(ScalarType.BFloat16, dh.dtype);
        Assert.InRange(Math.Abs(fused.ToDouble() - reference.ToDouble()) / reference.ToDouble(), 0, 0.01);
        Assert.True(dh.to_type(ScalarType.Float32).allclose(rh, rtol: 0.03, atol: 0.01), "∂L/∂h differs beyond bf16 rounding");
        Assert.True(dw.to_type(ScalarType.Float32).allclose(rw, rtol: 0.03, atol: 0.01), "∂L/∂W differs beyond bf16 rounding");
    }

    [Fact]
    public void Float32InputsGiveTheFloat64LossAndGradientsToFloat32Rounding()
    {
        using var scope = NewDisposeScope();
        var (h, w, y) = Inputs(ScalarType.Float32, v: 1013);                        // 63 vectors of 16 and a tail of 5
        var fused = LinearCrossEntropy.Sum(h, w, y, 3_000);
        var (dh, dw) = Gradients(fused, h, w);
        var h64 = h.detach().to_type(ScalarType.Float64).requires_grad_();
        var w64 = w.detach().to_type(ScalarType.Float64).requires_grad_();
        var reference = nn.functional.cross_entropy(nn.functional.linear(h64, w64), y, reduction: nn.Reduction.Sum);
        var (rh, rw) = Gradients(reference, h64, w64);
        Assert.InRange(Math.Abs(fused.ToDouble() - reference.ToDouble()) / reference.ToDouble(), 0, 1e-6);
        Assert.True(dh.to_type(ScalarType.Float64).allclose(rh, rtol: 1e-5, atol: 1e-6), "∂L/∂h differs");
        Assert.True(dw.to_type(ScalarType.Float64).allclose(rw, rtol: 1e-5, atol: 1e-6), "∂L/∂W differs");
    }

    [Fact]
    public void FrozenHeadWeightGetsNoGradientAndHiddenStillDoes()
    {
        using var scope = NewDisposeScope();
        var (h, w, y) = Inputs(ScalarType.Float64);
        w.requires_grad_(false);
        var fused = LinearCrossEntropy.Sum(h, w, y, 1_000);
        fused.backward();
        Assert.Null(w.grad);
        var reference = nn.functional.cross_entropy(nn.functional.linear(h.detach().requires_grad_(), w), y, reduction: nn.Reduction.Sum);
        Assert.Equal(reference.ToDouble(), fused.ToDouble(), 5);
        Assert.NotNull(h.grad);
    }

    [Fact]
    public void ModelLossGradientsEqualThoseOfTheFullLogitsPath()
    {
        using var model = HuggingFaceCheckpoint.Load(Fixtures.StoriesHf);
        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 1, 5, 9, 13, 17, 21, 25, 29, 1, 40, 41, 42 }).view(2, 6);
        var labels = tensor(new long[] { -100, -100, 9, 13, -100, 21, -100, 40, -100, 42, -100, -100 }).view(2, 6);
        model.LossSum(ids, labels, null).LossSum.backward();
        var fused = model.parameters().Select(p => p.grad!.clone()).ToList();
        model.zero_grad();
        model.LossSum(model.forward(ids), labels).LossSum.backward();
        var reference = model.parameters().Select(p => p.grad!).ToList();
        for (int i = 0; i < fused.Count; i++)
        {
            double error = (fused[i] - reference[i]).abs().max().ToDouble(), scale = reference[i].abs().max().ToDouble();
            Assert.True(error <= 1e-5 * scale, $"gradient of parameter {i} differs by {error} (largest entry {scale})");   // float32 rounding
        }
    }

    private static (Tensor, Tensor) Gradients(Tensor loss, Tensor h, Tensor w)
    {
        var grads = torch.autograd.grad(new[] { loss }, new[] { h, w });
        return (grads[0], grads[1]);
    }
}
