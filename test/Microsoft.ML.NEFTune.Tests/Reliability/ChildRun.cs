using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Microsoft.ML.NEFTune.Tests.Reliability;

/// <summary>
/// <c>dotnet neftune.dll ARGS</c> as a child process, both output streams read as they come, and waits that end at an exact
/// event (a line, the exit) or fail with a message after a deadlock guard of <see cref="Timeout"/>; never a sleep.
/// </summary>
internal sealed class ChildRun : IDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    private readonly Process process;
    private readonly BlockingCollection<string> errorLines = new();
    private readonly StringBuilder output = new(), error = new();

    public ChildRun(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        // A process inherits ignored signals, and the .NET runtime never installs a Ctrl-C handler over an inherited SIG_IGN:
        // when this test process runs as a background job of a non-interactive shell (SIGINT ignored), a child started
        // directly could not be interrupted. GNU env's --default-signal gives the child the disposition of a terminal's
        // foreground process.
        var start = new ProcessStartInfo(OperatingSystem.IsLinux() ? "env" : "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        if (OperatingSystem.IsLinux()) { start.ArgumentList.Add("--default-signal=INT"); start.ArgumentList.Add("dotnet"); }
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "neftune.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) { errorLines.CompleteAdding(); return; }
            lock (error) error.AppendLine(e.Data);
            errorLines.Add(e.Data);
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Output { get { lock (output) return output.ToString(); } }
    public string Error { get { lock (error) return error.ToString(); } }

    /// <summary>Waits for a standard-error line containing <paramref name="marker"/>; fails if the process ends first or on timeout.</summary>
    public string WaitForErrorLine(string marker)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        while (true)
        {
            try
            {
                if (errorLines.TryTake(out var line, System.Threading.Timeout.Infinite, timeout.Token) && line.Contains(marker, StringComparison.Ordinal)) return line;
            }
            catch (OperationCanceledException) { Kill(); Assert.Fail($"no line '{marker}' on standard error within {Timeout}; it wrote:\n{Error}"); }
            catch (InvalidOperationException) { }   // completed: standard error was closed
            if (errorLines.IsCompleted) Assert.Fail($"the process ended before writing '{marker}' to standard error; it wrote:\n{Error}\n{Output}");
        }
    }

    /// <summary>Waits for the exit and returns the exit code; kills the process and fails on timeout.</summary>
    public int WaitForExit()
    {
        if (!process.WaitForExit(Timeout)) { Kill(); Assert.Fail($"the process did not exit within {Timeout}; it wrote:\n{Output}\n{Error}"); }
        process.WaitForExit();   // drains the redirected streams
        return process.ExitCode;
    }

    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int SendSignal(int pid, int signal);

    public const int SigInt = 2, SigTerm = 15;

    /// <summary>
    /// Sends <paramref name="signal"/> (<see cref="SigInt"/> as Ctrl+C in a terminal does, <see cref="SigTerm"/> as <c>kill</c>
    /// does); fails at once, naming the cause, if the child ignores it (it would never act on it).
    /// </summary>
    public void Signal(int signal)
    {
        var ignored = File.ReadLines($"/proc/{process.Id}/status").Single(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        ulong mask = Convert.ToUInt64(ignored["SigIgn:".Length..].Trim(), 16);
        Assert.True((mask & (1UL << (signal - 1))) == 0, $"the child process ignores signal {signal} ({ignored}): it inherited SIG_IGN, so it cannot be interrupted");
        Assert.True(SendSignal(process.Id, signal) == 0, $"kill({signal}) failed with errno {Marshal.GetLastWin32Error()}");
    }

    private void Kill()
    {
        try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
    }

    public void Dispose()
    {
        if (!process.HasExited) { Kill(); process.WaitForExit(Timeout); }
        process.Dispose();
        errorLines.Dispose();
    }
}
