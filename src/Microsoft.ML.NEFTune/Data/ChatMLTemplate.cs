namespace Microsoft.ML.NEFTune.Data;

/// <summary>
/// ChatML: every turn is <c>&lt;|im_start|&gt;{role}\n{content}&lt;|im_end|&gt;\n</c>, and a prompt for generation ends
/// with <c>&lt;|im_start|&gt;assistant\n</c>. The target of an assistant turn is <c>{content}&lt;|im_end|&gt;</c> and the
/// end-of-sequence token; the newline after it belongs to the next prompt. The markers are text, encoded by the
/// tokenizer like any other text.
/// </summary>
public sealed class ChatMLTemplate : PromptTemplate
{
    internal const string TemplateName = "chatml";

    /// <param name="defaultSystem">A system prompt for examples that have none; null for none.</param>
    public ChatMLTemplate(string? defaultSystem = null) => DefaultSystem = defaultSystem;

    /// <summary>The system prompt used when an example has none.</summary>
    public string? DefaultSystem { get; }

    /// <inheritdoc/>
    public override string Name => TemplateName;

    /// <inheritdoc/>
    public override IReadOnlyList<TemplateSegment> Render(InstructionExample example)
    {
        ArgumentNullException.ThrowIfNull(example);
        var conversation = Conversation.From(example);
        var system = conversation.System ?? DefaultSystem;
        var segments = new List<TemplateSegment>();
        var prompt = system is null ? "" : "<|im_start|>system\n" + system + "<|im_end|>\n";
        for (int i = 0; i < conversation.Turns.Count; i++)
        {
            var (user, assistant) = conversation.Turns[i];
            if (i > 0) prompt = "\n";
            segments.Add(new TemplateSegment(prompt + "<|im_start|>user\n" + user + "<|im_end|>\n<|im_start|>assistant\n", false));
            if (assistant is null) continue;
            segments.Add(new TemplateSegment(assistant + "<|im_end|>", true));
            segments.Add(TemplateSegment.Eos(true));
        }
        return segments;
    }
}
