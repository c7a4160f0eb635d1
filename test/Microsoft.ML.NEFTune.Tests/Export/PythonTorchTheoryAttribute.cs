using System.Diagnostics;

namespace Microsoft.ML.NEFTune.Tests.Export;

/// <summary>
/// A theory that needs Debian's <c>/usr/bin/python3</c> with <c>torch</c> (apt-get install python3-torch); without it the
/// test is reported as skipped with that reason (CI installs the package, see <c>.ci/run</c>).
/// </summary>
public sealed class PythonTorchTheoryAttribute : TheoryAttribute
{
    public PythonTorchTheoryAttribute()
    {
        if (PythonTorch.Missing is { } reason) Skip = reason;
    }
}

/// <summary>Whether <c>/usr/bin/python3</c> can import torch, asked once per test run.</summary>
internal static class PythonTorch
{
    public const string Python = "/usr/bin/python3";

    private static readonly Lazy<string?> Reason = new(() =>
    {
        if (!File.Exists(Python)) return $"{Python} is not installed (apt-get install python3-torch)";
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("import torch");
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000))
        {
            process.Kill();
            return $"{Python} -c 'import torch' did not finish within 120 s";
        }
        return process.ExitCode == 0 ? null
            : $"{Python} cannot import torch (apt-get install python3-torch): {stderr.Result.Trim().Split('\n').LastOrDefault()}";
    });

    /// <summary>Null when torch imports; else why the test cannot run.</summary>
    public static string? Missing => Reason.Value;
}
