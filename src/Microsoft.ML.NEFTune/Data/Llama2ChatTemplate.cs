namespace Microsoft.ML.NEFTune.Data;

/// <summary>
/// The Llama 2 chat format, as Meta's reference <c>chat_completion</c> builds it: each exchange is
/// <c>&lt;s&gt;[INST] {user} [/INST] {assistant} &lt;/s&gt;</c> with contents stripped, and a system prompt folded
/// into the first user turn as <c>&lt;&lt;SYS&gt;&gt;\n{system}\n&lt;&lt;/SYS&gt;&gt;\n\n</c>. The target of an exchange is
/// <c> {assistant} </c> and the end-of-sequence token; the beginning-of-sequence token opens every later exchange.
/// </summary>
public sealed class Llama2ChatTemplate : PromptTemplate
{
    internal const string TemplateName = "llama2-chat";

    /// <param name="defaultSystem">A system prompt for examples that have none; null for none.</param>
    public Llama2ChatTemplate(string? defaultSystem = null) => DefaultSystem = defaultSystem;

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
        for (int i = 0; i < conversation.Turns.Count; i++)
        {
            var (user, assistant) = conversation.Turns[i];
            if (i == 0 && system is not null) user = "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + user;
            if (i > 0) segments.Add(TemplateSegment.Bos());
            segments.Add(new TemplateSegment("[INST] " + user.Trim() + " [/INST]", false));
            if (assistant is null) continue;
            segments.Add(new TemplateSegment(" " + assistant.Trim() + " ", true));
            segments.Add(TemplateSegment.Eos(true));
        }
        return segments;
    }
}
