using System.Text.Json;

namespace Microsoft.ML.NEFTune.Data;

/// <summary>
/// Reads instruction data (JSON array, JSON lines) and plain text (<c>.txt</c>, one document per line) into a
/// <see cref="Dataset"/>. A record whose output is empty is kept and trained on the end-of-sequence token alone, as
/// the NEFTune and Alpaca training code does. Records that are well-formed but unusable (an empty instruction or text, a
/// conversation without an assistant turn, turns out of order) are skipped and listed in
/// <see cref="Dataset.Skipped"/>; malformed input throws <see cref="DataFormatException"/>, and so does a file
/// without a single usable record.
/// </summary>
public static class DatasetReader
{
    /// <summary>Reads a data file.</summary>
    /// <param name="path">A <c>.json</c> (array or JSON lines), <c>.jsonl</c> or <c>.txt</c> file, UTF-8.</param>
    /// <param name="format">The record layout; null detects it from the first record's fields.</param>
    /// <param name="mapping">Field names that differ from the format's defaults.</param>
    /// <param name="skipUnusableRecords">When false, an unusable record throws instead of being skipped.</param>
    public static Dataset Read(string path, DataFormat? format = null, FieldMapping? mapping = null, bool skipUnusableRecords = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (format is { } given && !Enum.IsDefined(given)) throw new ArgumentOutOfRangeException(nameof(format), given, "Unknown data format.");
        mapping?.Validate();

        var file = DataFile.Load(path);
        bool plainText = Path.GetExtension(path).Equals(".txt", StringComparison.OrdinalIgnoreCase);
        List<RawRecord> records;
        DataFormat resolved;
        if (plainText)
        {
            if (format is { } f && f != DataFormat.Text)
                throw new DataFormatException(path, $"a .txt file holds plain text, one document per line; format {f} needs a JSON file");
            records = file.Lines();
            resolved = DataFormat.Text;
        }
        else
        {
            if (!file.IsJsonArray && !file.IsJsonLines)
            {
                var what = file.Text.Trim().Length == 0 ? "the file is empty" : "the file is neither a JSON array nor JSON lines (it must start with '[' or '{')";
                throw new DataFormatException(path, what, 1, 1);
            }
            records = file.JsonValues();
            if (records.Count == 0) throw new DataFormatException(path, "the file holds no records");
            resolved = format ?? Detect(path, records[0], mapping);
        }

        var examples = new List<InstructionExample>();
        var documents = new List<PlainText>();
        var skipped = new List<SkippedRecord>();
        var names = FieldNames.For(resolved, mapping);
        foreach (var record in records)
        {
            var context = new RecordContext(path, record);
            string? unusable = resolved switch
            {
                DataFormat.Text => ReadText(record, names, context, documents),
                DataFormat.Alpaca or DataFormat.Dolly => ReadInstruction(record.Json, names, context, examples),
                _ => ReadConversation(record.Json, resolved, names, context, examples),
            };
            if (unusable is null) continue;
            if (!skipUnusableRecords) throw context.Error(unusable);
            skipped.Add(new SkippedRecord(record.Index, record.Line, unusable));
        }

        if (examples.Count == 0 && documents.Count == 0)
        {
            var reasons = string.Join("; ", skipped.Take(3).Select(s => $"record {s.RecordIndex} (line {s.Line}): {s.Reason}"));
            throw new DataFormatException(path, $"no usable records: {records.Count} read, {skipped.Count} skipped" + (reasons.Length > 0 ? $" ({reasons})" : ""));
        }
        return new Dataset(path, resolved, records.Count, examples, documents, skipped);
    }

    private static DataFormat Detect(string path, RawRecord first, FieldMapping? mapping)
    {
        if (FormatDetector.Detect(first.Json, mapping) is { } detected) return detected;
        var fields = first.Json.ValueKind == JsonValueKind.Object
            ? "it has fields " + string.Join(", ", first.Json.EnumerateObject().Select(p => p.Name))
            : $"it is a JSON {Kind(first.Json)}, not an object";
        throw new DataFormatException(path, $"cannot detect the data format from the first record ({fields}); expected {FormatDetector.Expected(mapping)}, or pass the format and a field mapping",
            first.Line, first.Column, first.Index);
    }

    private static string? ReadText(RawRecord record, FieldNames names, RecordContext context, List<PlainText> documents)
    {
        var text = record.Text ?? RequiredString(Object(record.Json, context), names.Text, context);
        if (string.IsNullOrWhiteSpace(text)) return "empty text";
        documents.Add(new PlainText(text));
        return null;
    }

    private static string? ReadInstruction(JsonElement json, FieldNames names, RecordContext context, List<InstructionExample> examples)
    {
        var record = Object(json, context);
        var instruction = RequiredString(record, names.Instruction, context);
        var input = OptionalString(record, names.Input, context) ?? "";
        var output = RequiredString(record, names.Output, context);
        if (string.IsNullOrWhiteSpace(instruction)) return $"empty instruction ('{names.Instruction}')";
        // An empty output is kept and trained on EOS alone, as the NEFTune and Alpaca training code does.
        examples.Add(output.Length == 0 ? InstructionExample.WithEmptyResponse(instruction, input) : InstructionExample.FromInstruction(instruction, input, output));
        return null;
    }

    private static string? ReadConversation(JsonElement json, DataFormat format, FieldNames names, RecordContext context, List<InstructionExample> examples)
    {
        var record = Object(json, context);
        if (!record.TryGetProperty(names.Messages, out var turns) || turns.ValueKind == JsonValueKind.Null)
            throw context.Error("is missing", names.Messages);
        if (turns.ValueKind != JsonValueKind.Array)
            throw context.Error($"must be an array of turns, found {Kind(turns)}", names.Messages);

        var messages = new List<ChatMessage>();
        if (OptionalString(record, names.System, context) is { } system && !string.IsNullOrWhiteSpace(system))
            messages.Add(new ChatMessage(ChatRole.System, system));
        int i = 0;
        foreach (var turn in turns.EnumerateArray())
        {
            var field = $"{names.Messages}[{i++}]";
            if (turn.ValueKind != JsonValueKind.Object) throw context.Error($"must be an object, found {Kind(turn)}", field);
            var roleName = RequiredString(turn, names.Role, context, field + ".");
            var role = ParseRole(roleName, format) ?? throw context.Error(
                $"has unknown role '{roleName}' (expected {(format == DataFormat.ShareGPT ? "human, user, gpt, assistant or system" : "system, user or assistant")})",
                $"{field}.{names.Role}");
            var content = RequiredString(turn, names.Content, context, field + ".");
            if (role == ChatRole.System && string.IsNullOrWhiteSpace(content)) continue;
            messages.Add(new ChatMessage(role, content));
        }

        if (InstructionExample.StructureProblem(messages) is { } problem) return problem;
        for (int t = 0; t < messages.Count; t++)
            if (messages[t].Role != ChatRole.System && string.IsNullOrWhiteSpace(messages[t].Content))
                return $"turn {t} ({messages[t].Role.ToString().ToLowerInvariant()}) is empty";
        if (messages[^1].Role != ChatRole.Assistant)
            return "the conversation ends with a user turn (no response to learn)";
        examples.Add(InstructionExample.FromMessages(messages));
        return null;
    }

    private static ChatRole? ParseRole(string name, DataFormat format) => name.ToLowerInvariant() switch
    {
        "system" => ChatRole.System,
        "user" => ChatRole.User,
        "assistant" => ChatRole.Assistant,
        "human" when format == DataFormat.ShareGPT => ChatRole.User,
        "gpt" when format == DataFormat.ShareGPT => ChatRole.Assistant,
        _ => null,
    };

    private static JsonElement Object(JsonElement json, RecordContext context)
        => json.ValueKind == JsonValueKind.Object ? json : throw context.Error($"the record is a JSON {Kind(json)}, expected an object");

    private static string RequiredString(JsonElement obj, string field, RecordContext context, string prefix = "")
        => OptionalString(obj, field, context, prefix) ?? throw context.Error("is missing", prefix + field);

    private static string? OptionalString(JsonElement obj, string field, RecordContext context, string prefix = "")
    {
        if (!obj.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.String) throw context.Error($"must be a string, found {Kind(value)}", prefix + field);
        return value.GetString()!;
    }

    private static string Kind(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.True or JsonValueKind.False => "boolean",
        var kind => kind.ToString().ToLowerInvariant(),
    };

    private readonly record struct RecordContext(string Path, RawRecord Record)
    {
        public DataFormatException Error(string problem, string? field = null)
            => new(Path, problem, Record.Line, Record.Column, Record.Index, field);
    }
}
