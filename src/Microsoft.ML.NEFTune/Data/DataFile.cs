using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Microsoft.ML.NEFTune.Data;

/// <summary>A record of a data file with where it starts: a JSON value, or a line of text.</summary>
internal readonly record struct RawRecord(int Index, int Line, int Column, JsonElement Json, string? Text);

/// <summary>The bytes of a data file, checked to be UTF-8, split into records with their positions.</summary>
internal sealed class DataFile
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private readonly ReadOnlyMemory<byte> content;
    private readonly List<int> newlines = new();

    private DataFile(string path, byte[] bytes)
    {
        Path = path;
        int bom = bytes.AsSpan().StartsWith("\uFEFF"u8) ? 3 : 0;
        content = bytes.AsMemory(bom);
        var span = content.Span;
        for (int i = 0; i < span.Length; i++) if (span[i] == (byte)'\n') newlines.Add(i);
        try
        {
            Text = StrictUtf8.GetString(span);
        }
        catch (DecoderFallbackException e)
        {
            int offset = FirstInvalidUtf8(span);
            var (line, column) = Position(offset);
            throw new DataFormatException(path, $"the file is not valid UTF-8: invalid byte 0x{span[offset]:X2} at byte offset {bom + offset}", line, column, innerException: e);
        }
    }

    public string Path { get; }

    /// <summary>The decoded text (without a byte-order mark).</summary>
    public string Text { get; }

    /// <summary>True when the first non-blank character opens a JSON array.</summary>
    public bool IsJsonArray => FirstNonBlank == '[';

    /// <summary>True when the first non-blank character opens a JSON object (JSON lines).</summary>
    public bool IsJsonLines => FirstNonBlank == '{';

    private char? FirstNonBlank => Text.AsSpan().TrimStart() is { Length: > 0 } rest ? rest[0] : null;

    public static DataFile Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Data file not found: {path}", path);
        return new DataFile(path, File.ReadAllBytes(path));
    }

    /// <summary>1-based line and byte column of a byte offset (counted after any byte-order mark).</summary>
    public (int Line, int Column) Position(long offset)
    {
        int index = newlines.BinarySearch((int)offset);
        int before = index >= 0 ? index : ~index;   // newlines strictly before offset
        int lineStart = before == 0 ? 0 : newlines[before - 1] + 1;
        return (before + 1, (int)offset - lineStart + 1);
    }

    /// <summary>Non-blank lines as records.</summary>
    public List<RawRecord> Lines()
    {
        var records = new List<RawRecord>();
        var lines = Text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (i == lines.Length - 1 && line.Length == 0) break;
            records.Add(new RawRecord(records.Count, i + 1, 1, default, line));
        }
        return records;
    }

    /// <summary>The elements of a top-level JSON array, or the values of a JSON-lines file.</summary>
    public List<RawRecord> JsonValues()
    {
        var records = new List<RawRecord>();
        var reader = new Utf8JsonReader(content.Span, new JsonReaderOptions { AllowMultipleValues = !IsJsonArray });
        try
        {
            if (IsJsonArray)
            {
                reader.Read();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    records.Add(Record(records.Count, reader.TokenStartIndex, JsonElement.ParseValue(ref reader)));
                while (reader.Read()) { }
            }
            else
            {
                while (reader.Read())
                    records.Add(Record(records.Count, reader.TokenStartIndex, JsonElement.ParseValue(ref reader)));
            }
        }
        catch (JsonException e)
        {
            int line = (int)(e.LineNumber ?? 0) + 1;
            int column = (int)(e.BytePositionInLine ?? 0) + 1;
            var layout = IsJsonArray ? "JSON array" : "JSON lines";
            throw new DataFormatException(Path, $"malformed JSON ({layout}): {Describe(e)}", line, column, records.Count, innerException: e);
        }
        return records;
    }

    private RawRecord Record(int index, long start, JsonElement value)
    {
        var (line, column) = Position(start);
        if (!IsValidText(value))
            throw new DataFormatException(Path, "a string or field name is not valid UTF-16 (an escape such as \\ud800 without its pair)", line, column, index);
        return new RawRecord(index, line, column, value, null);
    }

    /// <summary>False when a string or property name escapes half of a surrogate pair, which no field can be read from.</summary>
    private static bool IsValidText(JsonElement value)
    {
        try
        {
            switch (value.ValueKind)
            {
                case JsonValueKind.String:
                    value.GetString();
                    return true;
                case JsonValueKind.Array:
                    foreach (var item in value.EnumerateArray()) if (!IsValidText(item)) return false;
                    return true;
                case JsonValueKind.Object:
                    foreach (var property in value.EnumerateObject()) if (property.Name is null || !IsValidText(property.Value)) return false;
                    return true;
                default:
                    return true;
            }
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static string Describe(JsonException e)
    {
        var message = e.Message;
        foreach (var marker in new[] { " Path: ", " LineNumber: " })
        {
            int at = message.IndexOf(marker, StringComparison.Ordinal);
            if (at >= 0) message = message[..at];
        }
        return message.TrimEnd(' ', '|', '.');
    }

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> span)
    {
        int i = 0;
        while (i < span.Length)
        {
            if (System.Text.Rune.DecodeFromUtf8(span[i..], out _, out int consumed) != OperationStatus.Done) return i;
            i += consumed;
        }
        return span.Length - 1;
    }
}
