using Spectre.Console;

namespace Microsoft.ML.NEFTune.Cli.Display;

/// <summary>Whether output goes to a person at a terminal (live progress bars) or to a file, pipe or test (plain lines).</summary>
public static class Terminal
{
    /// <summary>True when <paramref name="output"/> is the process's standard output and that is a terminal.</summary>
    public static bool IsInteractive(TextWriter output) =>
        ReferenceEquals(output, System.Console.Out) && !System.Console.IsOutputRedirected
        && !string.Equals(Environment.GetEnvironmentVariable("TERM"), "dumb", StringComparison.Ordinal)
        && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NEFTUNE_PLAIN_OUTPUT"));

    /// <summary>True when <paramref name="input"/> is the process's standard input and that is a terminal.</summary>
    public static bool IsInteractive(TextReader input) => ReferenceEquals(input, System.Console.In) && !System.Console.IsInputRedirected;

    /// <summary>A Spectre console on standard output, for live displays.</summary>
    public static IAnsiConsole Console() => AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(System.Console.Out) });

    /// <summary>A live-display console writing to <paramref name="writer"/> (ANSI, interactive), e.g. for tests.</summary>
    public static IAnsiConsole Console(TextWriter writer, int width = 120) => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new FixedWidthOutput(writer, width),
        Ansi = AnsiSupport.Yes,
        Interactive = InteractionSupport.Yes,
        ColorSystem = ColorSystemSupport.NoColors,
    });

    /// <summary>Sizes of bytes: 1.5 KiB, 12.0 MiB…</summary>
    public static string Bytes(long bytes)
    {
        string[] units = { "B", "KiB", "MiB", "GiB", "TiB" };
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < units.Length - 1) { value /= 1024; unit++; }
        return unit == 0 ? $"{bytes} B" : value.ToString("F1", System.Globalization.CultureInfo.InvariantCulture) + " " + units[unit];
    }

    private sealed class FixedWidthOutput(TextWriter writer, int width) : IAnsiConsoleOutput
    {
        public TextWriter Writer => writer;
        public bool IsTerminal => true;
        public int Width => width;
        public int Height => 40;
        public void SetEncoding(System.Text.Encoding encoding) { }
    }
}
