namespace Microsoft.ML.NEFTune.Data;

/// <summary>
/// The Stanford Alpaca prompt, exactly as in the Alpaca and NEFTune training code: the prompt ends with
/// <c>### Response:</c> and the output follows directly, then the end-of-sequence token. For generation the prompt ends
/// with a newline after <c>### Response:</c>, as in the NEFTune evaluation code. A conversation renders
/// its first turn with the no-input prompt (a system message replaces the preamble) and each further turn as
/// <c>\n\n### Instruction:\n{user}\n\n### Response:</c>.
/// </summary>
public sealed class AlpacaTemplate : PromptTemplate
{
    internal const string TemplateName = "alpaca";

    /// <summary>The prompt for an example with a non-empty input.</summary>
    public const string PromptInput =
        "Below is an instruction that describes a task, paired with an input that provides further context. " +
        "Write a response that appropriately completes the request.\n\n" +
        "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:";

    /// <summary>The prompt for an example whose input is empty.</summary>
    public const string PromptNoInput =
        "Below is an instruction that describes a task. " +
        "Write a response that appropriately completes the request.\n\n" +
        "### Instruction:\n{instruction}\n\n### Response:";

    private const string NoInputPreamble = "Below is an instruction that describes a task. Write a response that appropriately completes the request.";

    /// <inheritdoc/>
    public override string Name => TemplateName;

    /// <summary>
    /// A generation prompt ends <c>### Response:\n</c>, as the NEFTune authors' evaluation prompt does (their Alpaca
    /// conversation template puts a newline after each role), while their training prompt ends <c>### Response:</c>
    /// with the output right after it; both are followed here.
    /// </summary>
    protected override string GenerationPromptSuffix => "\n";

    /// <inheritdoc/>
    public override IReadOnlyList<TemplateSegment> Render(InstructionExample example)
    {
        ArgumentNullException.ThrowIfNull(example);
        var segments = new List<TemplateSegment>();
        if (!example.IsConversation)
        {
            var prompt = example.Input!.Length > 0
                ? Fill(PromptInput, example.Instruction!, example.Input)
                : Fill(PromptNoInput, example.Instruction!, "");
            segments.Add(new TemplateSegment(prompt, false));
            if (example.HasResponse) AddResponse(segments, example.Output!);   // an empty response trains EOS alone
            return segments;
        }

        var conversation = Conversation.From(example);
        for (int i = 0; i < conversation.Turns.Count; i++)
        {
            var (user, assistant) = conversation.Turns[i];
            var prompt = i > 0
                ? "\n\n### Instruction:\n" + user + "\n\n### Response:"
                : (conversation.System ?? NoInputPreamble) + "\n\n### Instruction:\n" + user + "\n\n### Response:";
            segments.Add(new TemplateSegment(prompt, false));
            if (assistant is not null) AddResponse(segments, assistant);
        }
        return segments;
    }

    private static void AddResponse(List<TemplateSegment> segments, string response)
    {
        segments.Add(new TemplateSegment(response, true));
        segments.Add(TemplateSegment.Eos(true));
    }

    private static string Fill(string template, string instruction, string input)
    {
        int i = template.IndexOf("{instruction}", StringComparison.Ordinal);
        var filled = template[..i] + instruction + template[(i + "{instruction}".Length)..];
        int j = filled.IndexOf("{input}", i + instruction.Length, StringComparison.Ordinal);
        return j < 0 ? filled : filled[..j] + input + filled[(j + "{input}".Length)..];
    }
}
