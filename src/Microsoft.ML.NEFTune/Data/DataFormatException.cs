using System.Text;

namespace Microsoft.ML.NEFTune.Data;

/// <summary>
/// A data file cannot be used: malformed JSON, bytes that are not UTF-8, a missing or mistyped field, an
/// undetectable format, or no usable record. The message names the file, the position and the problem.
/// </summary>
public sealed class DataFormatException : Exception
{
    /// <summary>Creates the exception; the message is <c>file:line:column: record i: field 'f' problem</c> without the unknown parts.</summary>
    public DataFormatException(string file, string problem, int? line = null, int? column = null, int? recordIndex = null,
        string? field = null, Exception? innerException = null)
        : base(Describe(file, problem, line, column, recordIndex, field), innerException)
    {
        File = file;
        Problem = problem;
        Line = line;
        Column = column;
        RecordIndex = recordIndex;
        Field = field;
    }

    /// <summary>The file at fault.</summary>
    public string File { get; }

    /// <summary>What is wrong.</summary>
    public string Problem { get; }

    /// <summary>1-based line of the problem (or of the record's start), when known.</summary>
    public int? Line { get; }

    /// <summary>1-based byte column within <see cref="Line"/>, when known.</summary>
    public int? Column { get; }

    /// <summary>0-based index of the record at fault: array element, value of a JSON-lines file, or line of a text file.</summary>
    public int? RecordIndex { get; }

    /// <summary>The field at fault, when one is.</summary>
    public string? Field { get; }

    private static string Describe(string file, string problem, int? line, int? column, int? recordIndex, string? field)
    {
        var text = new StringBuilder(file);
        if (line is not null) text.Append(':').Append(line);
        if (line is not null && column is not null) text.Append(':').Append(column);
        text.Append(": ");
        if (recordIndex is not null) text.Append("record ").Append(recordIndex).Append(": ");
        if (field is not null) text.Append("field '").Append(field).Append("' ");
        return text.Append(problem).ToString();
    }
}
