namespace Microsoft.ML.NEFTune.Data.Templates;

/// <summary>
/// A chat template could not be parsed or rendered: a syntax error, a feature the interpreter does not support, a
/// runtime error (such as an undefined variable used in arithmetic), or the template's own <c>raise_exception</c>.
/// The message names the template line.
/// </summary>
public sealed class ChatTemplateException : Exception
{
    /// <summary>Creates the exception for a problem at a template line.</summary>
    public ChatTemplateException(string problem, int line, bool raisedByTemplate = false)
        : base(raisedByTemplate ? problem : $"chat template line {line}: {problem}")
    {
        Problem = problem;
        Line = line;
        RaisedByTemplate = raisedByTemplate;
    }

    /// <summary>What went wrong (for <see cref="RaisedByTemplate"/>, the template's own message).</summary>
    public string Problem { get; }

    /// <summary>The 1-based template line where it went wrong.</summary>
    public int Line { get; }

    /// <summary>True when the template itself called <c>raise_exception(message)</c>; the message is then exactly its argument.</summary>
    public bool RaisedByTemplate { get; }
}
