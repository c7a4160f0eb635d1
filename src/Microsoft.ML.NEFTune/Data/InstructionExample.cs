namespace Microsoft.ML.NEFTune.Data;

/// <summary>
/// One supervised example: an Alpaca-style (instruction, input, output) triple or a conversation of
/// <see cref="ChatMessage"/>s. The response (the output, or every assistant turn) is what training learns.
/// An example without a response is a prompt for generation.
/// </summary>
public sealed class InstructionExample
{
    private readonly bool emptyResponse;

    private InstructionExample(string? instruction, string? input, string? output, IReadOnlyList<ChatMessage>? messages, bool emptyResponse = false)
    {
        Instruction = instruction;
        Input = input;
        Output = output;
        Messages = messages;
        this.emptyResponse = emptyResponse;
    }

    /// <summary>An Alpaca-style example. A null or empty <paramref name="input"/> selects the no-input prompt.</summary>
    public static InstructionExample FromInstruction(string instruction, string? input = null, string? output = null)
    {
        ArgumentNullException.ThrowIfNull(instruction);
        return new InstructionExample(instruction, input ?? "", output ?? "", null);
    }

    /// <summary>
    /// An Alpaca-style example whose response is empty: it is trained on the end-of-sequence token alone, as the NEFTune
    /// and Stanford Alpaca training code does with a record whose output is "" (the target is <c>output + eos</c>).
    /// </summary>
    public static InstructionExample WithEmptyResponse(string instruction, string? input = null)
    {
        ArgumentNullException.ThrowIfNull(instruction);
        return new InstructionExample(instruction, input ?? "", "", null, emptyResponse: true);
    }

    /// <summary>
    /// A conversation: an optional first system message, then user and assistant turns alternating, starting with a
    /// user turn. It may end with a user turn (a prompt for generation).
    /// </summary>
    public static InstructionExample FromMessages(IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var list = messages.ToArray();
        if (Array.IndexOf(list, null) >= 0) throw new ArgumentException("A message is null.", nameof(messages));
        if (StructureProblem(list) is { } problem) throw new ArgumentException(problem, nameof(messages));
        return new InstructionExample(null, null, null, list);
    }

    /// <summary>True for a conversation, false for an Alpaca-style example.</summary>
    public bool IsConversation => Messages is not null;

    /// <summary>The instruction; null for a conversation.</summary>
    public string? Instruction { get; }

    /// <summary>The input, "" when there is none; null for a conversation.</summary>
    public string? Input { get; }

    /// <summary>The response, "" when there is none; null for a conversation.</summary>
    public string? Output { get; }

    /// <summary>The turns; null for an Alpaca-style example.</summary>
    public IReadOnlyList<ChatMessage>? Messages { get; }

    /// <summary>
    /// True when there is something to learn: a non-empty output, an empty one made with <see cref="WithEmptyResponse"/>
    /// (trained on EOS alone), or at least one assistant turn.
    /// </summary>
    public bool HasResponse => Messages is null ? Output!.Length > 0 || emptyResponse : Messages.Any(m => m.Role == ChatRole.Assistant);

    /// <summary>
    /// The example as turns. An Alpaca-style example becomes a user turn (the instruction, then a blank line and the
    /// input when there is one) and, when it has a response (<see cref="HasResponse"/>), an assistant turn.
    /// </summary>
    public IReadOnlyList<ChatMessage> ToMessages()
    {
        if (Messages is not null) return Messages;
        var user = Input!.Length == 0 ? Instruction! : Instruction + "\n\n" + Input;
        return !HasResponse
            ? new[] { new ChatMessage(ChatRole.User, user) }
            : new[] { new ChatMessage(ChatRole.User, user), new ChatMessage(ChatRole.Assistant, Output!) };
    }

    /// <summary>The example without its final response: the prompt a model answers at generation time.</summary>
    public InstructionExample WithoutFinalResponse()
    {
        if (Messages is null) return !HasResponse ? this : new InstructionExample(Instruction, Input, "", null);
        return Messages.Count > 0 && Messages[^1].Role == ChatRole.Assistant
            ? new InstructionExample(null, null, null, Messages.Take(Messages.Count - 1).ToArray())
            : this;
    }

    /// <summary>Why a list of turns is not a valid conversation, or null when it is.</summary>
    internal static string? StructureProblem(IReadOnlyList<ChatMessage> messages)
    {
        if (messages.Count == 0) return "the conversation has no turns";
        int start = messages[0].Role == ChatRole.System ? 1 : 0;
        if (start == messages.Count) return "the conversation has only a system turn";
        for (int i = start; i < messages.Count; i++)
        {
            var expected = (i - start) % 2 == 0 ? ChatRole.User : ChatRole.Assistant;
            if (messages[i].Role == ChatRole.System) return $"turn {i} is a system turn; only the first turn may be one";
            if (messages[i].Role != expected)
                return $"turn {i} is a {messages[i].Role.ToString().ToLowerInvariant()} turn where a {expected.ToString().ToLowerInvariant()} turn was expected (turns must alternate user, assistant, starting with user)";
        }
        return null;
    }

    /// <inheritdoc/>
    public override string ToString() => Messages is null
        ? $"Instruction: {Instruction}, Input: {Input}, Output: {Output}"
        : string.Join(" | ", Messages.Select(m => $"{m.Role}: {m.Content}"));
}

/// <summary>A document for continued pre-training: every token is a training target.</summary>
/// <param name="Text">The document text.</param>
public sealed record PlainText(string Text)
{
    /// <summary>The document text.</summary>
    public string Text { get; } = Text ?? throw new ArgumentNullException(nameof(Text));
}
