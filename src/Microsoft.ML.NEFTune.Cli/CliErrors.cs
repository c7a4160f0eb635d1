using System.Text.Json;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.IO.Tokenizers;
using Microsoft.ML.NEFTune.Modeling;

namespace Microsoft.ML.NEFTune.Cli;

/// <summary>Process exit codes of the <c>neftune</c> command.</summary>
public static class ExitCodes
{
    /// <summary>The command did what was asked.</summary>
    public const int Success = 0;

    /// <summary>The command failed while running (a bug, out of memory, a failed computation).</summary>
    public const int RuntimeFailure = 1;

    /// <summary>The command was not run as asked: bad or missing arguments, missing or invalid input files.</summary>
    public const int UsageError = 2;
}

/// <summary>A problem with what the user asked for: bad arguments, a missing or invalid input file. Exit code 2.</summary>
public sealed class CliUsageException : Exception
{
    public CliUsageException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>Turns exceptions into exit codes and one-line <c>neftune: error: ...</c> messages.</summary>
public static class CliErrors
{
    public const string Prefix = "neftune: error: ";

    /// <summary>Runs a command body; failures become an error line (and the stack trace when <paramref name="verbose"/>).</summary>
    public static int Run(Func<int> body, TextWriter stderr, bool verbose)
    {
        try
        {
            return body();
        }
        catch (Exception e)
        {
            return Report(e, stderr, verbose);
        }
    }

    /// <summary>Writes the error line for <paramref name="exception"/> and returns its exit code.</summary>
    public static int Report(Exception exception, TextWriter stderr, bool verbose)
    {
        Write(stderr, Describe(exception, verbose));
        if (verbose) stderr.WriteLine(exception.ToString());
        return IsUsageError(exception) ? ExitCodes.UsageError : ExitCodes.RuntimeFailure;
    }

    /// <summary>Writes one error line.</summary>
    public static void Write(TextWriter stderr, string message) => stderr.WriteLine(Prefix + OneLine(message));

    /// <summary>Bad input rather than a failure of the program: exit code 2.</summary>
    public static bool IsUsageError(Exception e) =>
        e is CliUsageException or ModelFormatException or TokenizerFormatException or DataFormatException or FileNotFoundException or DirectoryNotFoundException;

    private static string Describe(Exception e, bool verbose) =>
        IsUsageError(e) ? e.Message
        : verbose ? $"{e.Message} ({e.GetType().Name})"
        : $"{e.Message} ({e.GetType().Name}; run with --verbose for the stack trace)";

    /// <summary>Collapses a message onto one line.</summary>
    public static string OneLine(string message) =>
        string.Join(' ', message.Split(new[] { '\r', '\n' }, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>Whether an exception raised while reading a user-supplied file means the file is unusable.</summary>
    public static bool IsInvalidInput(Exception e) =>
        e is IOException or UnauthorizedAccessException or InvalidDataException or FormatException or JsonException
            or ArgumentException or NotSupportedException or ModelFormatException or TokenizerFormatException or KeyNotFoundException
            or IndexOutOfRangeException or EndOfStreamException;
}
