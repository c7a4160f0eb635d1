using System.Globalization;
using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.IO;

/// <summary>
/// The device a model trains and generates on: <c>cpu</c>, <c>cuda</c> (the first GPU) or <c>cuda:N</c>. CUDA needs a
/// TorchSharp CUDA backend package (<c>TorchSharp-cuda-linux</c> or <c>TorchSharp-cuda-windows</c>) and a GPU; with
/// <c>TorchSharp-cpu</c> only the CPU is there.
/// </summary>
public static partial class ComputeDevice
{
    /// <summary>The CPU.</summary>
    public const string Cpu = "cpu";

    /// <summary>
    /// The canonical form of <paramref name="device"/> (<c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>, lower case, no spaces).
    /// </summary>
    /// <param name="device">The device name.</param>
    /// <param name="setting">The name of the setting the value came from, used in the error.</param>
    /// <exception cref="ArgumentException">The name is none of these.</exception>
    public static string Parse(string? device, string setting = "Device")
    {
        var text = device?.Trim().ToLowerInvariant();
        if (text is Cpu or "cuda") return text;
        if (text is not null && CudaIndex().Match(text) is { Success: true } m && int.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            return "cuda:" + int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture);
        throw new ArgumentException($"{setting} '{device}' is not a device: use cpu, cuda or cuda:N (N = GPU index).", setting);
    }

    /// <summary>
    /// Checks that a parsed device can be used on this machine and returns it, or <c>cpu</c> when CUDA is missing and
    /// <paramref name="fallbackToCpu"/> is set.
    /// </summary>
    /// <exception cref="InvalidOperationException">CUDA is asked for but not available (no CUDA backend package, no GPU, or no GPU of that index) and falling back is not allowed.</exception>
    public static string Require(string device, bool fallbackToCpu = false, string setting = "Device")
        => Require(device, fallbackToCpu, setting, CudaDeviceCount, out _);

    internal static string Require(string device, bool fallbackToCpu, string setting, Func<int> cudaDeviceCount, out string? fellBack)
    {
        fellBack = null;
        device = Parse(device, setting);
        if (device == Cpu) return device;
        int index = device == "cuda" ? 0 : int.Parse(device[5..], CultureInfo.InvariantCulture);
        int count = cudaDeviceCount();
        if (index < count) return device;
        var problem = count == 0
            ? $"{setting} '{device}' asks for CUDA, but CUDA is not available: TorchSharp has no CUDA backend (add the TorchSharp-cuda-linux or TorchSharp-cuda-windows package instead of TorchSharp-cpu) or finds no GPU"
            : $"{setting} '{device}' asks for GPU {index}, but CUDA sees only {count} GPU{(count == 1 ? "" : "s")}";
        if (!fallbackToCpu) throw new InvalidOperationException(problem + ". Use cpu, or allow falling back to the CPU (MLContext.FallbackToCpu = true).");
        fellBack = problem + "; running on the CPU instead.";
        return Cpu;
    }

    /// <summary>How many GPUs TorchSharp's CUDA backend sees; 0 without a CUDA backend package or GPU.</summary>
    internal static int CudaDeviceCount() => cuda.is_available() ? cuda.device_count() : 0;

    [GeneratedRegex("^cuda:([0-9]{1,6})$")]
    private static partial Regex CudaIndex();
}
