namespace Microsoft.ML.NEFTune.Cli;

/// <summary>
/// The one place where Ctrl-C becomes a cancellation token: while an instance lives, Ctrl-C does not kill the
/// process but cancels <see cref="Token"/> (and prints <c>notice</c> once, if given), so a command can stop at a safe
/// point — a training step boundary with a checkpoint, or between downloaded files. Dispose to restore the default.
/// </summary>
internal sealed class CliCancellation : IDisposable
{
    private readonly CancellationTokenSource source = new();
    private readonly ConsoleCancelEventHandler handler;

    /// <param name="error">Where the notice goes.</param>
    /// <param name="notice">Printed when Ctrl-C is pressed; null = nothing.</param>
    public CliCancellation(TextWriter error, string? notice = null)
    {
        handler = (_, e) =>
        {
            e.Cancel = true;
            if (source.IsCancellationRequested) return;
            source.Cancel();
            if (notice is not null) error.WriteLine(notice);
        };
        Console.CancelKeyPress += handler;
    }

    /// <summary>The notice of a training command: it finishes the current step and writes a checkpoint.</summary>
    public const string TrainingNotice = "cancelling: finishing the current step and writing a checkpoint…";

    /// <summary>Cancelled by Ctrl-C.</summary>
    public CancellationToken Token => source.Token;

    /// <summary>Whether Ctrl-C was pressed.</summary>
    public bool IsCancellationRequested => source.IsCancellationRequested;

    public void Dispose()
    {
        Console.CancelKeyPress -= handler;
        source.Dispose();
    }
}
