namespace Microsoft.ML.NEFTune.Data;

/// <summary>
/// Vicuna v1.1 (FastChat): <c>{system} USER: {user} ASSISTANT: {assistant}&lt;/s&gt;USER: {user} ASSISTANT:</c>, where
/// <c>&lt;/s&gt;</c> is the end-of-sequence token. The target of an assistant turn is <c> {assistant}</c> (with its
/// leading space) and the end-of-sequence token; a prompt for generation ends with <c>ASSISTANT:</c>.
/// </summary>
public sealed class VicunaTemplate : PromptTemplate
{
    internal const string TemplateName = "vicuna";

    /// <summary>FastChat's Vicuna v1.1 system prompt.</summary>
    public const string DefaultSystemPrompt =
        "A chat between a curious user and an artificial intelligence assistant. " +
        "The assistant gives helpful, detailed, and polite answers to the user's questions.";

    /// <param name="defaultSystem">The system prompt for examples that have none.</param>
    public VicunaTemplate(string defaultSystem = DefaultSystemPrompt) => DefaultSystem = defaultSystem ?? throw new ArgumentNullException(nameof(defaultSystem));

    /// <summary>The system prompt used when an example has none.</summary>
    public string DefaultSystem { get; }

    /// <inheritdoc/>
    public override string Name => TemplateName;

    /// <inheritdoc/>
    public override IReadOnlyList<TemplateSegment> Render(InstructionExample example)
    {
        ArgumentNullException.ThrowIfNull(example);
        var conversation = Conversation.From(example);
        var segments = new List<TemplateSegment>();
        for (int i = 0; i < conversation.Turns.Count; i++)
        {
            var (user, assistant) = conversation.Turns[i];
            var head = i == 0 ? (conversation.System ?? DefaultSystem) + " " : "";
            segments.Add(new TemplateSegment(head + "USER: " + user + " ASSISTANT:", false));
            if (assistant is null) continue;
            segments.Add(new TemplateSegment(" " + assistant, true));
            segments.Add(TemplateSegment.Eos(true));
        }
        return segments;
    }
}
