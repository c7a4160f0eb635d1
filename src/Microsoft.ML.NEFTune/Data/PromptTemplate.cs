namespace Microsoft.ML.NEFTune.Data;

/// <summary>
/// Turns an <see cref="InstructionExample"/> into the text the model sees, split into prompt and target
/// segments. Every assistant turn (the output of an Alpaca-style example) is a target, closed by an end-of-sequence
/// token. Built-in templates: <c>alpaca</c>, <c>llama2-chat</c>, <c>chatml</c>, <c>vicuna</c>; a custom one comes
/// from <see cref="FromString"/> or <see cref="FromFile"/>.
/// </summary>
public abstract class PromptTemplate
{
    /// <summary>Names accepted by <see cref="Get"/>.</summary>
    public static IReadOnlyList<string> BuiltInNames { get; } = new[] { AlpacaTemplate.TemplateName, Llama2ChatTemplate.TemplateName, ChatMLTemplate.TemplateName, VicunaTemplate.TemplateName };

    /// <summary>The template's name.</summary>
    public abstract string Name { get; }

    /// <summary>
    /// Text at which a model tuned with this template begins a new turn by itself (for example <c>### Instruction:</c>
    /// for Alpaca, <c>&lt;|im_end|&gt;</c> for ChatML), so generation for a chat stops there. Empty for a custom template.
    /// </summary>
    public virtual IReadOnlyList<string> EndOfTurnStrings => Name switch
    {
        AlpacaTemplate.TemplateName => new[] { "### Instruction:", "### Input:" },
        VicunaTemplate.TemplateName => new[] { "USER:" },
        ChatMLTemplate.TemplateName => new[] { "<|im_end|>", "<|im_start|>" },
        Llama2ChatTemplate.TemplateName => new[] { "[INST]" },
        _ => Array.Empty<string>(),
    };

    /// <summary>
    /// True when the rendered text already holds the model's special tokens as text (a model's chat template writes
    /// its BOS and turn markers itself): no BOS is prepended, as <c>apply_chat_template</c> tokenizes without adding
    /// special tokens.
    /// </summary>
    public virtual bool RendersSpecialTokens => false;

    /// <summary>The whole example as ordered segments: prompts, targets and control tokens.</summary>
    public abstract IReadOnlyList<TemplateSegment> Render(InstructionExample example);

    /// <summary>
    /// The segments of the prompt a model answers at generation time: the example without its final response,
    /// ending where the response would begin.
    /// </summary>
    public virtual IReadOnlyList<TemplateSegment> RenderPromptSegments(InstructionExample example)
    {
        ArgumentNullException.ThrowIfNull(example);
        var segments = Render(example.WithoutFinalResponse()).ToList();
        while (segments.Count > 0 && segments[^1].IsTarget) segments.RemoveAt(segments.Count - 1);
        if (GenerationPromptSuffix.Length > 0) segments.Add(new TemplateSegment(GenerationPromptSuffix, false));
        return segments;
    }

    /// <summary>
    /// Text a generation prompt ends with after the rendered prompt, where training data has none (the response follows
    /// the prompt directly in training). Default "".
    /// </summary>
    protected virtual string GenerationPromptSuffix => "";

    /// <summary>
    /// The prompt for generation as text (control tokens inside earlier turns are left out; use
    /// <see cref="ExampleTokenizer.EncodePrompt"/> for ids that include them).
    /// </summary>
    public string RenderPrompt(InstructionExample example) => string.Concat(RenderPromptSegments(example).Select(s => s.Text));

    /// <summary>A built-in template by name (case-insensitive).</summary>
    /// <exception cref="ArgumentException">The name is not one of <see cref="BuiltInNames"/>.</exception>
    public static PromptTemplate Get(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.Trim().ToLowerInvariant() switch
        {
            AlpacaTemplate.TemplateName => new AlpacaTemplate(),
            Llama2ChatTemplate.TemplateName => new Llama2ChatTemplate(),
            ChatMLTemplate.TemplateName => new ChatMLTemplate(),
            VicunaTemplate.TemplateName => new VicunaTemplate(),
            _ => throw new ArgumentException($"Unknown prompt template '{name}'. Known templates: {string.Join(", ", BuiltInNames)}; or give a template file.", nameof(name)),
        };
    }

    /// <summary>A custom template from text; see <see cref="CustomTemplate"/> for the placeholders.</summary>
    public static PromptTemplate FromString(string template, string? noInputTemplate = null) => new CustomTemplate(template, noInputTemplate);

    /// <summary>A custom template from a file; see <see cref="CustomTemplate.Load"/> for the file format.</summary>
    public static PromptTemplate FromFile(string path) => CustomTemplate.Load(path);

    /// <summary>
    /// A template by built-in name, <c>model</c> for the chat template of the model whose tokenizer is given (or
    /// <c>alpaca</c> when it has none), or else from the file at that path.
    /// </summary>
    /// <exception cref="ArgumentException">The name is unknown, or <c>model</c> without a tokenizer.</exception>
    public static PromptTemplate Resolve(string nameOrPath, IO.Tokenizers.TextTokenizer? tokenizer)
    {
        ArgumentNullException.ThrowIfNull(nameOrPath);
        if (!string.Equals(nameOrPath.Trim(), Templates.ModelPromptTemplate.TemplateName, StringComparison.OrdinalIgnoreCase)) return Resolve(nameOrPath);
        if (tokenizer is null) throw new ArgumentException("The template 'model' needs the model's tokenizer.", nameof(tokenizer));
        return (PromptTemplate?)Templates.ModelPromptTemplate.FromTokenizer(tokenizer) ?? new AlpacaTemplate();
    }

    /// <summary>A template by built-in name, or else from the file at that path.</summary>
    public static PromptTemplate Resolve(string nameOrPath)
    {
        ArgumentNullException.ThrowIfNull(nameOrPath);
        return BuiltInNames.Contains(nameOrPath.Trim().ToLowerInvariant()) || !File.Exists(nameOrPath) ? Get(nameOrPath) : FromFile(nameOrPath);
    }

    /// <inheritdoc/>
    public override string ToString() => Name;
}
