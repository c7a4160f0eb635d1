using Microsoft.ML.NEFTune.IO.Tokenizers;

namespace Microsoft.ML.NEFTune.Data.Templates;

/// <summary>
/// The prompt template <c>model</c>: a model's own <see cref="ChatTemplate"/>, for training and generation. The text is
/// exactly <c>apply_chat_template</c>'s; it already holds the model's special tokens (BOS too, when the model writes
/// one), so no BOS is prepended and none is doubled. The trained targets are the assistant turns: the text inside the
/// template's <c>{% generation %}</c> blocks when it has them (transformers' assistant mask), otherwise each assistant
/// turn found by prefix rendering — it starts where the conversation up to that turn, rendered with
/// <c>add_generation_prompt=True</c>, ends, and runs through the end-of-turn token the template writes after it.
/// </summary>
public sealed class ModelPromptTemplate : PromptTemplate
{
    /// <summary>The template name: <c>model</c>.</summary>
    public const string TemplateName = "model";

    private readonly ChatTemplateOptions? options;

    /// <param name="template">The model's chat template.</param>
    /// <param name="options">Date and extra variables for every render; null for today and none.</param>
    public ModelPromptTemplate(ChatTemplate template, ChatTemplateOptions? options = null)
    {
        ChatTemplate = template ?? throw new ArgumentNullException(nameof(template));
        this.options = options;
    }

    /// <summary>The chat template.</summary>
    public ChatTemplate ChatTemplate { get; }

    /// <inheritdoc/>
    public override string Name => TemplateName;

    /// <inheritdoc/>
    public override bool RendersSpecialTokens => true;

    /// <summary>The template's end-of-turn token and the EOS token (<see cref="ChatTemplate.EndOfTurnTokens"/>).</summary>
    public override IReadOnlyList<string> EndOfTurnStrings => ChatTemplate.EndOfTurnTokens;

    /// <summary>The chat template of the model whose tokenizer this is, or null when it has none.</summary>
    public static ModelPromptTemplate? FromTokenizer(TextTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (tokenizer.FolderPath is not { } directory) return null;
        bool hasFiles = File.Exists(Path.Combine(directory, TokenizerConfig.FileName)) || File.Exists(Path.Combine(directory, ChatTemplate.JinjaFileName));
        return hasFiles && ChatTemplate.TryFromTokenizerConfig(directory) is { } template ? new ModelPromptTemplate(template) : null;
    }

    /// <inheritdoc/>
    public override IReadOnlyList<TemplateSegment> Render(InstructionExample example)
    {
        ArgumentNullException.ThrowIfNull(example);
        var messages = Messages(example);
        return ChatTemplate.HasGenerationMarkers ? ByGenerationMarkers(messages) : ByPrefixRendering(messages);
    }

    /// <summary>The conversation without its final response, rendered with <c>add_generation_prompt=True</c>.</summary>
    public override IReadOnlyList<TemplateSegment> RenderPromptSegments(InstructionExample example)
    {
        ArgumentNullException.ThrowIfNull(example);
        return new[] { new TemplateSegment(ChatTemplate.Render(Messages(example.WithoutFinalResponse()), addGenerationPrompt: true, options), false) };
    }

    private static (string Role, string Content)[] Messages(InstructionExample example) =>
        example.ToMessages().Select(m => (ChatTemplate.RoleName(m.Role), m.Content)).ToArray();

    private IReadOnlyList<TemplateSegment> ByGenerationMarkers((string Role, string Content)[] messages)
    {
        var rendering = ChatTemplate.RenderTracked(messages, addGenerationPrompt: false, options);
        if (rendering.GenerationRanges.Count == 0 && messages.Any(m => m.Role == "assistant"))
            throw new ChatTemplateException("the template has {% generation %} blocks but they marked no text of this conversation", 1);
        var spans = rendering.GenerationRanges.Select(r => r.GetOffsetAndLength(rendering.Text.Length)).Select(p => (Start: p.Offset, End: p.Offset + p.Length));
        return Segments(rendering.Text, spans);
    }

    private IReadOnlyList<TemplateSegment> ByPrefixRendering((string Role, string Content)[] messages)
    {
        string full = ChatTemplate.Render(messages, addGenerationPrompt: false, options);
        var spans = new List<(int Start, int End)>();
        for (int k = 0; k < messages.Length; k++)
        {
            if (messages[k].Role != "assistant") continue;
            string before = ChatTemplate.Render(messages[..k], addGenerationPrompt: true, options);
            if (!full.StartsWith(before, StringComparison.Ordinal))
                throw new ChatTemplateException($"the template does not render conversations prefix-consistently (the text before assistant turn {k} changes when later turns follow), so its assistant turns cannot be found; give the template {{% generation %}} markers or use a built-in template", 1);
            int start = before.Length;
            string after = ChatTemplate.Render(messages[..(k + 1)], addGenerationPrompt: false, options);
            int end;
            if (full.StartsWith(after, StringComparison.Ordinal) && after.Length > start)
            {
                end = after.Length;
            }
            else
            {
                // The turn renders differently once later turns follow (Qwen3 drops the empty think block of earlier
                // turns): it runs to the first end-of-turn token after its start.
                end = EndOfTurn(full, start, k);
            }

            while (end > start && char.IsWhiteSpace(full[end - 1])) end--; // the newline after the end-of-turn belongs to the next prompt
            spans.Add((start, end));
        }

        return Segments(full, spans);
    }

    private int EndOfTurn(string text, int start, int turn)
    {
        int best = -1;
        foreach (var token in ChatTemplate.EndOfTurnTokens)
        {
            int at = text.IndexOf(token, start, StringComparison.Ordinal);
            if (at >= 0 && (best < 0 || at + token.Length < best)) best = at + token.Length;
        }

        return best >= 0 ? best : throw new ChatTemplateException($"assistant turn {turn} is not closed by an end-of-turn token ({string.Join(", ", ChatTemplate.EndOfTurnTokens)})", 1);
    }

    private static List<TemplateSegment> Segments(string text, IEnumerable<(int Start, int End)> spans)
    {
        var segments = new List<TemplateSegment>();
        int pos = 0;
        foreach (var (start, end) in spans.OrderBy(s => s.Start))
        {
            if (start < pos) throw new ChatTemplateException("assistant turns overlap in the rendered text", 1);
            if (start > pos) segments.Add(new TemplateSegment(text[pos..start], false));
            if (end > start) segments.Add(new TemplateSegment(text[start..end], true));
            pos = end;
        }

        if (pos < text.Length) segments.Add(new TemplateSegment(text[pos..], false));
        return segments;
    }
}
