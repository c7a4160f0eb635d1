namespace Microsoft.ML.NEFTune.IO;

/// <summary>
/// What the CPU offers for bfloat16 matrix products. libtorch's bfloat16 products are fast only where the CPU has
/// bfloat16 dot-product instructions (AVX512-BF16 or AMX-BF16): measured on a Zen 5 with AVX512-BF16 about 4× the
/// float32 rate, on an AVX2-only EPYC 0.8 GFLOP/s against 101 in float32. Detection reads the CPU flags Linux reports
/// in <c>/proc/cpuinfo</c>; elsewhere it assumes no fast bfloat16. The environment variable
/// <c>NEFTUNE_CPU_FAST_BF16</c> (<c>1</c> or <c>0</c>) overrides the detection.
/// </summary>
public static class CpuFeatures
{
    /// <summary>The CPU flags that make bfloat16 products fast.</summary>
    public static readonly IReadOnlyList<string> FastBFloat16Flags = new[] { "avx512_bf16", "amx_bf16" };

    private static readonly Lazy<(bool Fast, IReadOnlyList<string> Flags, string Source)> Detected = new(Detect);

    /// <summary>True when bfloat16 matrix products run faster than float32 ones on this CPU.</summary>
    public static bool FastBFloat16 => Detected.Value.Fast;

    /// <summary>The bfloat16-related flags found (e.g. <c>avx512_bf16</c>); empty when none or unknown.</summary>
    public static IReadOnlyList<string> BFloat16Flags => Detected.Value.Flags;

    /// <summary>Where the answer came from: <c>/proc/cpuinfo</c>, the override variable, or <c>unknown</c>.</summary>
    public static string Source => Detected.Value.Source;

    /// <summary>The flags among <see cref="FastBFloat16Flags"/> that a <c>/proc/cpuinfo</c> text lists.</summary>
    public static IReadOnlyList<string> ParseCpuInfo(string cpuinfo)
    {
        ArgumentNullException.ThrowIfNull(cpuinfo);
        var line = cpuinfo.Split('\n').FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal));
        if (line is null || !line.Contains(':')) return Array.Empty<string>();
        var flags = line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        return FastBFloat16Flags.Where(flags.Contains).ToArray();
    }

    private static (bool, IReadOnlyList<string>, string) Detect()
    {
        IReadOnlyList<string> flags = Array.Empty<string>();
        string source = "unknown";
        try
        {
            if (OperatingSystem.IsLinux() && File.Exists("/proc/cpuinfo"))
            {
                flags = ParseCpuInfo(File.ReadAllText("/proc/cpuinfo"));
                source = "/proc/cpuinfo";
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        var overrideValue = Environment.GetEnvironmentVariable("NEFTUNE_CPU_FAST_BF16");
        if (overrideValue is "0" or "1") return (overrideValue == "1", flags, "NEFTUNE_CPU_FAST_BF16=" + overrideValue);
        return (flags.Count > 0, flags, source);
    }
}
