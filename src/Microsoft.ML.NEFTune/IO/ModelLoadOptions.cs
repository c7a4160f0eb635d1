using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.IO;

/// <summary>Where and in which precision a loaded model lives.</summary>
public sealed record ModelLoadOptions
{
    /// <summary>Parameter dtype. Default float32 (the master weights for training).</summary>
    public ScalarType DType { get; init; } = ScalarType.Float32;

    /// <summary>Device, e.g. <c>cpu</c> or <c>cuda</c>. Default cpu.</summary>
    public string Device { get; init; } = "cpu";

    public static ModelLoadOptions Default { get; } = new();
}
