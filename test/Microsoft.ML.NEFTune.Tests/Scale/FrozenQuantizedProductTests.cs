using TorchSharp;
using Microsoft.ML.NEFTune.Quantization;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.Scale;

/// <summary>The quantized layers' custom backward equals autograd through the dequantized weight.</summary>
public class FrozenQuantizedProductTests
{
    [Theory]
    [InlineData(BaseQuantization.Nf4)]
    [InlineData(BaseQuantization.Int8)]
    public void InputGradientEqualsAutogradThroughTheDequantizedWeight(BaseQuantization kind)
    {
        var generator = new TorchSharp.torch.Generator(11);
        using var weight = randn(48, 40, generator: generator) * 0.1;
        using var bias = randn(48, generator: generator);
        using var layer = QuantizedLinear.Create(kind, weight, bias);
        using var x = randn(new long[] { 3, 5, 40 }, generator: generator).requires_grad_(true);
        using var upstream = randn(new long[] { 3, 5, 48 }, generator: generator);

        using var y = layer.call(x);
        using (var loss = (y * upstream).sum()) loss.backward();
        using var dx = x.grad!.detach().clone();

        using var w = layer.Dequantize();                                  // the reference: plain autograd
        using var x2 = x.detach().clone().requires_grad_(true);
        using var y2 = nn.functional.linear(x2, w, layer.Bias);
        using (var loss2 = (y2 * upstream).sum()) loss2.backward();

        Assert.True((y.detach() - y2.detach()).abs().max().ToDouble() < 1e-4, "outputs differ");
        double diff = (dx - x2.grad!).abs().max().ToDouble();
        Assert.True(diff < 1e-4, $"input gradients differ by {diff:g3}");
        Assert.True(dx.abs().max().ToDouble() > 0.1, "the gradient is not trivially zero");
    }
}
