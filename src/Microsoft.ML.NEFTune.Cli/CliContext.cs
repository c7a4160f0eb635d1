using System.CommandLine;

namespace Microsoft.ML.NEFTune.Cli;

using Command = System.CommandLine.Command;

/// <summary>The streams a command reads and writes, and the global options every command sees.</summary>
public sealed class CliContext
{
    public CliContext(TextWriter stdout, TextWriter stderr, TextReader stdin)
    {
        Out = stdout;
        Error = stderr;
        In = stdin;
    }

    public TextWriter Out { get; }
    public TextWriter Error { get; }
    public TextReader In { get; }

    /// <summary>Global <c>--verbose</c>: stack traces on errors.</summary>
    public Option<bool> Verbose { get; } = new("--verbose", "-v")
    {
        Description = "Print stack traces with error messages.",
        Recursive = true,
    };

    /// <summary>Sets the command's action; exceptions become exit codes and one-line error messages.</summary>
    public void SetAction(Command command, Func<ParseResult, int> action) =>
        command.SetAction(result => CliErrors.Run(() => action(result), Error, result.GetValue(Verbose)));
}
