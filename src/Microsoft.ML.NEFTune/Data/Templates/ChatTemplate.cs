using System.Text.Json;
using Microsoft.ML.NEFTune.Data.Templates.Jinja;
using Microsoft.ML.NEFTune.IO.Tokenizers;

namespace Microsoft.ML.NEFTune.Data.Templates;

/// <summary>
/// A model's chat template (the Jinja <c>chat_template</c> of its <c>tokenizer_config.json</c>, or its
/// <c>chat_template.jinja</c>), rendered exactly as Hugging Face <c>transformers</c>'
/// <c>tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=…)</c> renders it: the same Jinja
/// settings (<c>trim_blocks</c>, <c>lstrip_blocks</c>, no autoescape), the same variables (<c>messages</c>,
/// <c>add_generation_prompt</c>, <c>tools</c> and <c>documents</c> as none, each special token that is set, such as
/// <c>bos_token</c> and <c>eos_token</c>) and the same helpers (<c>raise_exception</c>, <c>strftime_now</c>,
/// <c>tojson</c>). The interpreter is a safe subset of Jinja2: no Python objects are reachable, loops, recursion and
/// output are bounded, and anything unsupported is a <see cref="ChatTemplateException"/> naming the template line.
/// </summary>
public sealed class ChatTemplate
{
    /// <summary>The file a model may carry its template in, preferred to <c>tokenizer_config.json</c>'s <c>chat_template</c> (as in transformers).</summary>
    public const string JinjaFileName = "chat_template.jinja";

    private readonly IReadOnlyList<JinjaNode> syntax;
    private readonly Dictionary<string, object?> tokenVariables;
    private IReadOnlyList<string>? endOfTurnTokens;

    private ChatTemplate(string source, ChatTemplateTokens tokens)
    {
        Source = source;
        Tokens = tokens;
        syntax = JinjaParser.Parse(source);
        tokenVariables = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in tokens.Named)
        {
            if (!string.IsNullOrEmpty(value)) tokenVariables[name] = value;
        }

        if (tokens.AdditionalSpecialTokens.Count > 0)
            tokenVariables["additional_special_tokens"] = tokens.AdditionalSpecialTokens.Cast<object?>().ToList();
        HasGenerationMarkers = ContainsGeneration(syntax);
    }

    /// <summary>The template text.</summary>
    public string Source { get; }

    /// <summary>The special token strings the template sees as variables.</summary>
    public ChatTemplateTokens Tokens { get; }

    /// <summary>True when the template marks assistant text with <c>{% generation %}</c> blocks (used for assistant-only loss).</summary>
    public bool HasGenerationMarkers { get; }

    /// <summary>
    /// Parses <paramref name="source"/> with the given special tokens (null for none).
    /// </summary>
    /// <exception cref="ChatTemplateException">The template has a syntax error or an unsupported statement.</exception>
    public static ChatTemplate FromString(string source, ChatTemplateTokens? tokens = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new ChatTemplate(source, tokens ?? new ChatTemplateTokens());
    }

    /// <summary>
    /// The chat template of a model: <paramref name="path"/> is a <c>tokenizer_config.json</c> file or a model (or
    /// tokenizer) directory. A <c>chat_template.jinja</c> beside the config takes precedence over its
    /// <c>chat_template</c>, which may be a string or a list of named templates (the one named "default" is used).
    /// </summary>
    /// <exception cref="FileNotFoundException">There is no <c>tokenizer_config.json</c> (nor <c>chat_template.jinja</c>).</exception>
    /// <exception cref="TokenizerFormatException">The config is not valid or has no chat template.</exception>
    /// <exception cref="ChatTemplateException">The template has a syntax error or an unsupported statement.</exception>
    public static ChatTemplate FromTokenizerConfig(string path) =>
        TryFromTokenizerConfig(path) ?? throw new TokenizerFormatException(ConfigPath(path), "it has no 'chat_template' (and there is no chat_template.jinja beside it)");

    /// <summary>As <see cref="FromTokenizerConfig"/>, but null when the config has no chat template.</summary>
    public static ChatTemplate? TryFromTokenizerConfig(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string configPath = ConfigPath(path);
        string directory = Path.GetDirectoryName(configPath)!;
        string jinjaPath = Path.Combine(directory, JinjaFileName);
        bool hasConfig = File.Exists(configPath), hasJinja = File.Exists(jinjaPath);
        if (!hasConfig && !hasJinja)
            throw new FileNotFoundException($"'{configPath}' does not exist.", configPath);
        TokenizerConfig? config = hasConfig ? TokenizerConfig.Load(configPath) : null;
        string? source = hasJinja ? File.ReadAllText(jinjaPath) : config!.ChatTemplate;
        if (source is null)
        {
            if (config?.ChatTemplateProblem is { } problem) throw new TokenizerFormatException(configPath, problem);
            return null;
        }

        return new ChatTemplate(source, config is null ? new ChatTemplateTokens() : ChatTemplateTokens.From(config));
    }

    private static string ConfigPath(string path)
    {
        string full = Path.GetFullPath(path);
        return Directory.Exists(full) ? Path.Combine(full, TokenizerConfig.FileName) : full;
    }

    /// <summary>Renders a conversation as <c>apply_chat_template(messages, tokenize=False, add_generation_prompt=…)</c>.</summary>
    /// <param name="messages">The turns, in order.</param>
    /// <param name="addGenerationPrompt">Whether to end with the header that starts an assistant turn.</param>
    /// <param name="options">The date for <c>strftime_now</c> and extra variables; null for today and none.</param>
    /// <exception cref="ChatTemplateException">Rendering failed; <see cref="ChatTemplateException.RaisedByTemplate"/> when the template refused the conversation itself.</exception>
    public string Render(IEnumerable<ChatMessage> messages, bool addGenerationPrompt = false, ChatTemplateOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return Render(messages.Select(m => (RoleName(m.Role), m.Content)), addGenerationPrompt, options);
    }

    /// <summary>Renders turns given as (role, content) pairs; roles are free text (for example "tool").</summary>
    public string Render(IEnumerable<(string Role, string Content)> messages, bool addGenerationPrompt = false, ChatTemplateOptions? options = null) =>
        RenderTracked(messages, addGenerationPrompt, options).Text;

    /// <summary>
    /// Renders as <see cref="Render(IEnumerable{ValueTuple{string, string}}, bool, ChatTemplateOptions?)"/> and also returns the
    /// character spans written inside <c>{% generation %}</c> blocks (transformers' assistant mask).
    /// </summary>
    public ChatTemplateRendering RenderTracked(IEnumerable<(string Role, string Content)> messages, bool addGenerationPrompt = false, ChatTemplateOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var list = new List<object?>();
        foreach (var (role, content) in messages)
        {
            ArgumentNullException.ThrowIfNull(role, nameof(messages));
            ArgumentNullException.ThrowIfNull(content, nameof(messages));
            list.Add(new JinjaDict { ["role"] = role, ["content"] = content });
        }

        var variables = new Dictionary<string, object?>(tokenVariables, StringComparer.Ordinal)
        {
            ["messages"] = list,
            ["add_generation_prompt"] = addGenerationPrompt,
            ["tools"] = null,
            ["documents"] = null,
        };
        if (options?.Variables is { } extra)
        {
            foreach (var (name, value) in extra) variables[name] = ToJinja(value, name);
        }

        var interpreter = new JinjaInterpreter(options?.Now ?? DateTime.Now);
        string text = interpreter.Render(syntax, variables);
        return new ChatTemplateRendering(text, interpreter.GenerationSpans.Select(s => new Range(s.Start, s.End)).ToArray());
    }

    /// <summary>
    /// The strings that end an assistant turn: the special token the template writes right after an assistant
    /// message (such as <c>&lt;|im_end|&gt;</c>, <c>&lt;|eot_id|&gt;</c> or <c>&lt;end_of_turn&gt;</c>) and the EOS token.
    /// Generation stops at any of them.
    /// </summary>
    public IReadOnlyList<string> EndOfTurnTokens => endOfTurnTokens ??= FindEndOfTurnTokens();

    private IReadOnlyList<string> FindEndOfTurnTokens()
    {
        var result = new List<string>();
        const string Marker = "\u0002assistant reply\u0003";
        try
        {
            string text = Render(new[] { ("user", "\u0002user turn\u0003"), ("assistant", Marker) }, options: new ChatTemplateOptions { Now = new DateTime(2024, 1, 1) });
            int at = text.IndexOf(Marker, StringComparison.Ordinal);
            if (at >= 0)
            {
                string after = text[(at + Marker.Length)..].TrimStart();
                var candidates = Tokens.AllSpecialTokens.Where(t => t.Length > 0 && after.StartsWith(t, StringComparison.Ordinal)).OrderByDescending(t => t.Length);
                if (candidates.FirstOrDefault() is { } token) result.Add(token);
            }
        }
        catch (ChatTemplateException)
        {
            // A template that refuses a bare user/assistant exchange: EOS alone.
        }

        if (Tokens.EosToken is { Length: > 0 } eos && !result.Contains(eos)) result.Add(eos);
        return result;
    }

    internal static string RoleName(ChatRole role) => role switch
    {
        ChatRole.System => "system",
        ChatRole.User => "user",
        ChatRole.Assistant => "assistant",
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "Unknown chat role."),
    };

    private static object? ToJinja(object? value, string name) => value switch
    {
        null => null,
        string or bool or long or double => value,
        int i => (long)i,
        float f => (double)f,
        IEnumerable<string> strings => strings.Cast<object?>().ToList(),
        JsonElement json => FromJson(json),
        _ => throw new ArgumentException($"The template variable '{name}' must be a string, bool, number, list of strings or JsonElement, not {value.GetType().Name}.", nameof(value)),
    };

    private static object? FromJson(JsonElement json)
    {
        switch (json.ValueKind)
        {
            case JsonValueKind.Null: return null;
            case JsonValueKind.True: return true;
            case JsonValueKind.False: return false;
            case JsonValueKind.String: return json.GetString();
            case JsonValueKind.Number: return json.TryGetInt64(out long l) ? (object)l : json.GetDouble();
            case JsonValueKind.Array: return json.EnumerateArray().Select(FromJson).ToList();
            case JsonValueKind.Object:
                var dict = new JinjaDict();
                foreach (var p in json.EnumerateObject()) dict[p.Name] = FromJson(p.Value);
                return dict;
            default: throw new ArgumentException($"Unsupported JSON value kind {json.ValueKind}.");
        }
    }

    private static bool ContainsGeneration(IEnumerable<JinjaNode> nodes) => nodes.Any(node => node switch
    {
        GenerationNode => true,
        IfNode i => i.Branches.Any(b => ContainsGeneration(b.Body)) || (i.Else is not null && ContainsGeneration(i.Else)),
        ForNode f => ContainsGeneration(f.Body) || (f.Else is not null && ContainsGeneration(f.Else)),
        MacroNode m => ContainsGeneration(m.Body),
        SetBlockNode s => ContainsGeneration(s.Body),
        FilterBlockNode fb => ContainsGeneration(fb.Body),
        _ => false,
    });

    /// <summary>Reads a messages file: a JSON list of <c>{"role": …, "content": …}</c> objects (other fields are refused).</summary>
    /// <exception cref="FormatException">The file is not such a list; the message names the problem.</exception>
    public static IReadOnlyList<(string Role, string Content)> ReadMessagesJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        using var document = JsonDocument.Parse(json);
        if (document.RootElement.ValueKind != JsonValueKind.Array) throw new FormatException("the messages file must be a JSON list of {\"role\", \"content\"} objects");
        var result = new List<(string, string)>();
        int index = 0;
        foreach (var item in document.RootElement.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object) throw new FormatException($"message {index} is not an object");
            string? role = null, content = null;
            foreach (var property in item.EnumerateObject())
            {
                switch (property.Name)
                {
                    case "role" when property.Value.ValueKind == JsonValueKind.String: role = property.Value.GetString(); break;
                    case "content" when property.Value.ValueKind == JsonValueKind.String: content = property.Value.GetString(); break;
                    case "role":
                    case "content":
                        throw new FormatException($"message {index}: '{property.Name}' must be a string");
                    default:
                        throw new FormatException($"message {index}: the field '{property.Name}' is not supported (only 'role' and 'content')");
                }
            }

            result.Add((role ?? throw new FormatException($"message {index} has no 'role'"), content ?? throw new FormatException($"message {index} has no 'content'")));
            index++;
        }

        return result;
    }
}

/// <summary>A rendered conversation and the character ranges its template wrote inside <c>{% generation %}</c> blocks.</summary>
/// <param name="Text">The rendered text.</param>
/// <param name="GenerationRanges">Ranges of <paramref name="Text"/> marked as assistant generations, in order; empty without markers.</param>
public sealed record ChatTemplateRendering(string Text, IReadOnlyList<Range> GenerationRanges);
