using System.Text;
using System.Text.Json;

namespace Microsoft.ML.NEFTune.Data;

/// <summary>
/// A user-defined single-turn template with placeholders <c>{instruction}</c> (required), <c>{input}</c> (optional)
/// and <c>{output}</c> (required, exactly once); <c>{{</c> and <c>}}</c> stand for literal braces. Everything before
/// <c>{output}</c> is the prompt; the output and any text after it are the target, followed by the
/// end-of-sequence token. An optional no-input variant (without <c>{input}</c>) is used for examples whose input
/// is empty, as Alpaca does. A conversation renders each exchange with the template (the user turn as the
/// instruction, empty input), one after another, with a system message and a blank line in front.
/// </summary>
public sealed class CustomTemplate : PromptTemplate
{
    private readonly Part[] parts;
    private readonly Part[]? noInputParts;

    /// <param name="template">The template text.</param>
    /// <param name="noInputTemplate">The variant for examples with an empty input; null to use <paramref name="template"/> for all.</param>
    /// <param name="name">A name for messages and logs.</param>
    public CustomTemplate(string template, string? noInputTemplate = null, string name = "custom")
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentException.ThrowIfNullOrEmpty(name);
        parts = Parse(template, nameof(template), allowInput: true);
        noInputParts = noInputTemplate is null ? null : Parse(noInputTemplate, nameof(noInputTemplate), allowInput: false);
        Template = template;
        NoInputTemplate = noInputTemplate;
        Name = name;
    }

    /// <summary>The template text.</summary>
    public string Template { get; }

    /// <summary>The no-input variant, or null.</summary>
    public string? NoInputTemplate { get; }

    /// <inheritdoc/>
    public override string Name { get; }

    /// <summary>
    /// Reads a template file. A <c>.json</c> file is an object <c>{"template": "...", "template_no_input": "..."}</c>
    /// (the second is optional); any other file is UTF-8 text whose whole content is the template, less one final
    /// line break.
    /// </summary>
    /// <exception cref="DataFormatException">The file is malformed or the template invalid.</exception>
    public static CustomTemplate Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Template file not found: {path}", path);
        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(File.ReadAllBytes(path)).TrimStart('\uFEFF');
        }
        catch (DecoderFallbackException e)
        {
            throw new DataFormatException(path, "the template file is not valid UTF-8", innerException: e);
        }
        var name = Path.GetFileNameWithoutExtension(path);
        try
        {
            if (!Path.GetExtension(path).Equals(".json", StringComparison.OrdinalIgnoreCase))
            {
                if (text.EndsWith("\r\n", StringComparison.Ordinal)) text = text[..^2];
                else if (text.EndsWith('\n')) text = text[..^1];
                return new CustomTemplate(text, null, name);
            }
            using var document = JsonDocument.Parse(text);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new DataFormatException(path, "a JSON template file must hold an object {\"template\": ..., \"template_no_input\": ...}");
            return new CustomTemplate(JsonString(root, "template", path, required: true)!, JsonString(root, "template_no_input", path, required: false), name);
        }
        catch (JsonException e)
        {
            throw new DataFormatException(path, "malformed JSON: " + e.Message, (int?)e.LineNumber + 1, (int?)e.BytePositionInLine + 1, innerException: e);
        }
        catch (ArgumentException e)
        {
            throw new DataFormatException(path, e.Message, field: e.ParamName == "noInputTemplate" ? "template_no_input" : null, innerException: e);
        }
    }

    /// <inheritdoc/>
    public override IReadOnlyList<TemplateSegment> Render(InstructionExample example)
    {
        ArgumentNullException.ThrowIfNull(example);
        var segments = new List<TemplateSegment>();
        if (!example.IsConversation)
        {
            var chosen = example.Input!.Length == 0 && noInputParts is not null ? noInputParts : parts;
            AddExchange(segments, chosen, "", example.Instruction!, example.Input!, example.Output!, example.HasResponse);
            return segments;
        }
        var conversation = Conversation.From(example);
        for (int i = 0; i < conversation.Turns.Count; i++)
        {
            var (user, assistant) = conversation.Turns[i];
            var head = i == 0 && conversation.System is not null ? conversation.System + "\n\n" : "";
            AddExchange(segments, noInputParts ?? parts, head, user, "", assistant ?? "", assistant is not null);
        }
        return segments;
    }

    private static void AddExchange(List<TemplateSegment> segments, Part[] template, string head, string instruction, string input, string output, bool hasResponse)
    {
        var prompt = new StringBuilder(head);
        int i = 0;
        for (; template[i].Kind != PartKind.Output; i++) prompt.Append(Fill(template[i], instruction, input));
        segments.Add(new TemplateSegment(prompt.ToString(), false));
        if (!hasResponse) return;
        var target = new StringBuilder(output);
        for (i++; i < template.Length; i++) target.Append(Fill(template[i], instruction, input));
        segments.Add(new TemplateSegment(target.ToString(), true));
        segments.Add(TemplateSegment.Eos(true));
    }

    private static string Fill(Part part, string instruction, string input) => part.Kind switch
    {
        PartKind.Instruction => instruction,
        PartKind.Input => input,
        _ => part.Text,
    };

    private static Part[] Parse(string template, string parameter, bool allowInput)
    {
        var result = new List<Part>();
        var literal = new StringBuilder();
        for (int i = 0; i < template.Length; i++)
        {
            char c = template[i];
            if ((c == '{' || c == '}') && i + 1 < template.Length && template[i + 1] == c) { literal.Append(c); i++; continue; }
            if (c == '}') throw new ArgumentException($"Unmatched '}}' at character {i} of the template; write '}}}}' for a literal brace.", parameter);
            if (c != '{') { literal.Append(c); continue; }
            int close = template.IndexOf('}', i + 1);
            var name = close < 0 ? template[i..] : template[(i + 1)..close];
            var kind = name switch
            {
                "instruction" => PartKind.Instruction,
                "input" when allowInput => PartKind.Input,
                "output" => PartKind.Output,
                "input" => throw new ArgumentException("The no-input template must not use {input}.", parameter),
                _ => throw new ArgumentException($"Unknown placeholder '{(close < 0 ? name : "{" + name + "}")}' at character {i} of the template; the placeholders are {{instruction}}, {{input}} and {{output}}, and '{{{{' is a literal brace.", parameter),
            };
            if (literal.Length > 0) result.Add(new Part(PartKind.Literal, literal.ToString()));
            literal.Clear();
            result.Add(new Part(kind, ""));
            i = close;
        }
        if (literal.Length > 0) result.Add(new Part(PartKind.Literal, literal.ToString()));
        int outputs = result.Count(p => p.Kind == PartKind.Output);
        if (outputs != 1) throw new ArgumentException($"The template must contain {{output}} exactly once (found {outputs}).", parameter);
        if (!result.Any(p => p.Kind == PartKind.Instruction)) throw new ArgumentException("The template must contain {instruction}.", parameter);
        return result.ToArray();
    }

    private static string? JsonString(JsonElement root, string field, string path, bool required)
    {
        if (!root.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
            return required ? throw new DataFormatException(path, "is missing", field: field) : null;
        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw new DataFormatException(path, $"must be a string, found {value.ValueKind}", field: field);
    }

    private enum PartKind { Literal, Instruction, Input, Output }

    private readonly record struct Part(PartKind Kind, string Text);
}
