using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>
/// Additions without a temporary Scalar. TorchSharp turns the implicit alpha of <c>a + b</c> (<c>add(b, alpha: 1)</c>)
/// into a Scalar object that nothing references once its native handle is passed to libtorch, so a collection caused by
/// another thread during the call can free it while libtorch still reads it (docs/reliability.md, "Known defect in
/// TorchSharp"). A static Scalar is never collected; the model's forward passes add through it.
/// </summary>
internal static class HeldScalars
{
    /// <summary>1, the alpha of a plain addition.</summary>
    public static readonly Scalar One = 1;

    /// <summary><c>a + b</c>.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);
}
