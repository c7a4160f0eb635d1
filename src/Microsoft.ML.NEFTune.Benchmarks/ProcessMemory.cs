using System.Diagnostics;

namespace Microsoft.ML.NEFTune.Benchmarks;

/// <summary>
/// Resident memory of this process. On Linux the peak (VmHWM) can be reset by writing 5 to
/// <c>/proc/self/clear_refs</c>, so the peak of one phase can be measured on its own.
/// </summary>
public static class ProcessMemory
{
    /// <summary>Current resident set size in bytes.</summary>
    public static long WorkingSet => ReadStatus("VmRSS:") ?? Process.GetCurrentProcess().WorkingSet64;

    /// <summary>Peak resident set size in bytes since the process started or since the last <see cref="TryResetPeak"/>.</summary>
    public static long PeakWorkingSet => ReadStatus("VmHWM:") ?? Process.GetCurrentProcess().PeakWorkingSet64;

    /// <summary>Resets the peak to the current resident size; false where the system does not allow it.</summary>
    public static bool TryResetPeak()
    {
        try
        {
            if (!OperatingSystem.IsLinux()) return false;
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    private static long? ReadStatus(string field)
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (!line.StartsWith(field, StringComparison.Ordinal)) continue;
                var parts = line[field.Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }
        catch (IOException) { }
        return null;
    }
}
