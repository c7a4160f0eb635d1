using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Quantization;

/// <summary>
/// <c>y = x · Wᵀ</c> for a frozen quantized weight W, as a custom autograd function that keeps nothing for backward
/// but a reference to the layer: the backward pass dequantizes W again and returns <c>∂L/∂x = ∂L/∂y · W</c>.
/// Through plain autograd, <c>linear(x, dequantize(W))</c> would keep every layer's dequantized float copy alive
/// until backward (for a 1.1B model in float32, 3.9 GB), which is what a quantized base exists to avoid.
/// W gets no gradient (it is frozen); the bias, if any, is added outside.
/// </summary>
internal sealed class FrozenQuantizedProduct : autograd.SingleTensorFunction<FrozenQuantizedProduct>
{
    public override string Name => nameof(FrozenQuantizedProduct);

    /// <param name="ctx">Autograd context.</param>
    /// <param name="vars">x (…, in) and the <see cref="QuantizedLinear"/>.</param>
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var layer = (QuantizedLinear)vars[1];
        ctx.save_data("layer", layer);
        ctx.save_data("dtype", x.dtype);
        using var w = layer.Dequantize(x.dtype);                          // (out, in), freed at once
        return nn.functional.linear(x, w);                                 // (…, out)
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        var layer = (QuantizedLinear)ctx.get_data("layer");
        var dtype = (ScalarType)ctx.get_data("dtype");
        using var w = layer.Dequantize(dtype);                            // (out, in), recomputed
        var dx = grad_output.to_type(dtype).matmul(w);                      // (…, in)
        return new List<Tensor> { dx, null! };
    }
}
