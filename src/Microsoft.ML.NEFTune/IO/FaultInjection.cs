using System.Globalization;
using System.Runtime.InteropServices;

namespace Microsoft.ML.NEFTune.IO;

/// <summary>
/// Exact events for crash and cancellation tests, so that they never wait on time, a log line or a file watcher. A plan is
/// read once from the <c>NEFTUNE_FAULT</c> environment variable of a child process, or set in-process for the current
/// asynchronous flow with <see cref="Use"/>:
/// <list type="bullet">
/// <item><c>crash-at-write:N</c>: the process dies (SIGKILL) right after creating its N-th temporary entry (a
/// <c>.checkpoint-*.tmp</c> folder or the temporary file of an atomic write, whose content is then written but neither
/// flushed nor renamed); counted from 1 over the whole process.</item>
/// <item><c>crash-after-step:N</c>: dies right after optimizer step N (its metrics line written, nothing else).</item>
/// <item><c>crash-at-evaluation:N</c>: dies at the start of the evaluation after step N.</item>
/// <item><c>pause-after-step:N</c>: after step N, writes <c>paused after step N</c> to standard error and waits for the run's
/// cancellation (Ctrl+C) before the step-boundary cancellation check; fails after 5 minutes without one.</item>
/// </list>
/// In-process, a "crash" throws <see cref="SimulatedCrashException"/>, which no cleanup code catches, so the files are left
/// as a killed process would leave them (minus what the operating system had not yet written). Each event is written to
/// standard error before it happens, so a test can assert where the run stopped.
/// </summary>
internal sealed record FaultInjection(string Kind, long At)
{
    public const string Variable = "NEFTUNE_FAULT";
    public static readonly TimeSpan PauseTimeout = TimeSpan.FromMinutes(5);

    private static readonly FaultInjection? FromEnvironment = Parse(Environment.GetEnvironmentVariable(Variable));
    private static readonly AsyncLocal<FaultInjection?> InProcess = new();
    private long writes;

    private bool ChildProcess => ReferenceEquals(this, FromEnvironment);

    /// <summary>The plan in effect for the caller, if any.</summary>
    public static FaultInjection? Current => InProcess.Value ?? FromEnvironment;

    /// <summary>Puts <paramref name="plan"/> in effect for the calling flow until the result is disposed.</summary>
    public static IDisposable Use(FaultInjection plan)
    {
        var previous = InProcess.Value;
        InProcess.Value = plan;
        return new Restore(() => InProcess.Value = previous);
    }

    public static FaultInjection? Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var parts = text.Split(':');
        if (parts.Length != 2 || parts[0] is not ("crash-at-write" or "crash-after-step" or "crash-at-evaluation" or "pause-after-step")
            || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long at) || at < 1)
            throw new ArgumentException($"{Variable}='{text}' is not one of crash-at-write:N, crash-after-step:N, crash-at-evaluation:N, pause-after-step:N (N >= 1).");
        return new FaultInjection(parts[0], at);
    }

    /// <summary>Called by the writers right after they create a temporary file or folder.</summary>
    public static void TemporaryCreated(string path)
    {
        if (Current is not { Kind: "crash-at-write" } plan) return;
        if (Interlocked.Increment(ref plan.writes) == plan.At) plan.Crash($"write {plan.At} ({path})");
    }

    /// <summary>Called by the trainer right after optimizer step <paramref name="step"/>, before its cancellation check.</summary>
    public static void StepCompleted(long step, CancellationToken cancellation)
    {
        if (Current is not { } plan || plan.At != step) return;
        if (plan.Kind == "crash-after-step") plan.Crash($"after step {step}");
        if (plan.Kind != "pause-after-step") return;
        Console.Error.WriteLine($"paused after step {step}");
        Console.Error.Flush();
        if (!cancellation.WaitHandle.WaitOne(PauseTimeout))
            throw new TimeoutException($"{Variable}: the run paused after step {step} was not cancelled within {PauseTimeout.TotalMinutes} minutes.");
    }

    /// <summary>Called by the trainer when it starts the evaluation after step <paramref name="step"/>.</summary>
    public static void EvaluationStarting(long step)
    {
        if (Current is { Kind: "crash-at-evaluation" } plan && plan.At == step) plan.Crash($"at the evaluation after step {step}");
    }

    private void Crash(string where)
    {
        Console.Error.WriteLine($"{Variable}: crashing {where}");
        Console.Error.Flush();
        if (!ChildProcess) throw new SimulatedCrashException(where);
        if (!OperatingSystem.IsWindows()) kill(Environment.ProcessId, 9);   // SIGKILL: no handler, no finally block runs
        Environment.FailFast($"{Variable}: crashing {where}");
    }

    [DllImport("libc", EntryPoint = "kill")]
    private static extern int kill(int pid, int signal);

    private sealed class Restore(Action restore) : IDisposable
    {
        public void Dispose() => restore();
    }
}

/// <summary>An in-process crash planned by <see cref="FaultInjection"/>; cleanup code lets it through untouched.</summary>
internal sealed class SimulatedCrashException(string where) : Exception($"simulated crash {where}");
