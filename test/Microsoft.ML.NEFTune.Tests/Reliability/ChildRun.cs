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
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
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

    /// <summary>Sends SIGINT, as Ctrl+C in a terminal does.</summary>
    public void Interrupt() => Assert.True(SendSignal(process.Id, 2) == 0, $"kill(SIGINT) failed with errno {Marshal.GetLastWin32Error()}");

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
