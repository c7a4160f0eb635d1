using Microsoft.ML.NEFTune.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.IO;

/// <summary>Where and in which precision a loaded model lives.</summary>
public sealed record ModelLoadOptions
{
    /// <summary>
    /// Parameter dtype. Default float32 (the master weights for training). Null means automatic: the checkpoint's
    /// <c>torch_dtype</c> where the CPU computes in it quickly (bfloat16 on CPUs with fast bfloat16 products), float32
    /// otherwise (see <see cref="Resolve"/>). The parameters are created in this dtype and filled tensor by tensor,
    /// so a bfloat16 load never holds a float32 copy.
    /// </summary>
    public ScalarType? DType { get; init; } = ScalarType.Float32;

    /// <summary>Device, e.g. <c>cpu</c> or <c>cuda</c>. Default cpu.</summary>
    public string Device { get; init; } = "cpu";

    public static ModelLoadOptions Default { get; } = new();

    /// <summary>
    /// The dtype a model stored as <paramref name="torchDtype"/> (config.json's <c>torch_dtype</c>) is loaded in.
    /// An explicit <see cref="DType"/> is kept. Automatic: float32 files load in float32; bfloat16 files in bfloat16
    /// when <paramref name="fastBFloat16"/>, else float32; float16 files in float32 (CPUs have no fast float16 products).
    /// </summary>
    /// <param name="torchDtype">The checkpoint's dtype name.</param>
    /// <param name="fastBFloat16">Whether the CPU has fast bfloat16 products (<see cref="CpuFeatures.FastBFloat16"/>).</param>
    /// <param name="note">One line saying why an automatic choice differs from the file's dtype, else null.</param>
    public ScalarType Resolve(string? torchDtype, bool fastBFloat16, out string? note)
    {
        note = null;
        if (DType is ScalarType explicitType) return explicitType;
        var stored = (torchDtype ?? "float32").ToLowerInvariant();
        switch (stored)
        {
            case "bfloat16":
                if (fastBFloat16) return ScalarType.BFloat16;
                note = "this CPU has no fast bfloat16 matrix products (no avx512_bf16/amx_bf16): the bfloat16 checkpoint is computed in float32 (twice the memory)";
                return ScalarType.Float32;
            case "float16":
                note = "float16 checkpoint: computed in float32 on the CPU (no fast float16 products)";
                return ScalarType.Float32;
            default:
                return ScalarType.Float32;
        }
    }

    /// <summary>
    /// The dtype a model path stores its weights in: bfloat16 for a Hugging Face folder whose config.json says
    /// <c>torch_dtype: bfloat16</c>, float32 otherwise (float16 checkpoints and llama2.c files included).
    /// </summary>
    public static ScalarType StoredDType(string modelPath)
    {
        var directory = Directory.Exists(modelPath) ? modelPath : Path.GetFileName(modelPath) == "config.json" ? Path.GetDirectoryName(Path.GetFullPath(modelPath)) : null;
        var config = directory is null ? null : Path.Combine(directory, "config.json");
        if (config is null || !File.Exists(config)) return ScalarType.Float32;
        return LlamaConfig.Load(config).TorchDtype == "bfloat16" ? ScalarType.BFloat16 : ScalarType.Float32;
    }

    /// <summary>Parses <c>auto</c>, <c>bf16</c>/<c>bfloat16</c> or <c>fp32</c>/<c>float32</c> into a <see cref="DType"/> (null = auto).</summary>
    public static ScalarType? ParseDType(string text) => text?.Trim().ToLowerInvariant() switch
    {
        "auto" => null,
        "bf16" or "bfloat16" => ScalarType.BFloat16,
        "fp32" or "float32" => ScalarType.Float32,
        _ => throw new FormatException($"'{text}' is not a dtype: use auto, bf16 or fp32."),
    };
}
