using System.Runtime.InteropServices;

namespace Microsoft.ML.NEFTune.Cli;

/// <summary>
/// The one place where a stop request becomes a cancellation token: while an instance lives, Ctrl-C (SIGINT) and SIGTERM
/// (what <c>kill</c>, <c>docker stop</c>, Kubernetes and batch schedulers send before they kill) do not end the process
/// but cancel <see cref="Token"/> (and print <c>notice</c> once, if given), so a command can stop at a safe point — a
/// training step boundary with a checkpoint, or between downloaded files. A second Ctrl-C or SIGTERM ends the process at
/// once, as without this class (atomic writes leave no partial file behind). Dispose to restore the defaults.
/// </summary>
/// <remarks>
/// A process started with SIGINT ignored (a background job of a non-interactive shell, <c>nohup</c>) keeps ignoring it:
/// the .NET runtime does not install a handler over an inherited <c>SIG_IGN</c>, so such a run stops on SIGTERM only.
/// </remarks>
internal sealed class CliCancellation : IDisposable
{
    private readonly CancellationTokenSource source = new();
    private readonly ConsoleCancelEventHandler handler;
    private readonly PosixSignalRegistration? terminate;
    private readonly TextWriter error;
    private readonly string? notice;

    /// <param name="error">Where the notice goes.</param>
    /// <param name="notice">Printed when the first stop request arrives; null = nothing.</param>
    public CliCancellation(TextWriter error, string? notice = null)
    {
        this.error = error;
        this.notice = notice;
        handler = (_, e) => e.Cancel = Cancel();
        Console.CancelKeyPress += handler;
        if (!OperatingSystem.IsWindows())
            terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => context.Cancel = Cancel());
    }

    /// <summary>The notice of a training command: it finishes the current step and writes a checkpoint.</summary>
    public const string TrainingNotice = "cancelling: finishing the current step and writing a checkpoint…";

    /// <summary>Cancelled by Ctrl-C or SIGTERM.</summary>
    public CancellationToken Token => source.Token;

    /// <summary>Whether a stop was requested.</summary>
    public bool IsCancellationRequested => source.IsCancellationRequested;

    /// <summary>Cancels once; returns false when already cancelled (the signal then takes its default action).</summary>
    private bool Cancel()
    {
        lock (source)
        {
            if (source.IsCancellationRequested) return false;
            source.Cancel();
        }
        if (notice is not null) error.WriteLine(notice);
        return true;
    }

    public void Dispose()
    {
        Console.CancelKeyPress -= handler;
        terminate?.Dispose();
        source.Dispose();
    }
}
