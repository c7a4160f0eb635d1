namespace Microsoft.ML.NEFTune.Data;

/// <summary>One turn of a conversation.</summary>
/// <param name="Role">Who speaks.</param>
/// <param name="Content">What is said (may be empty, never null).</param>
public sealed record ChatMessage(ChatRole Role, string Content)
{
    /// <summary>Who speaks.</summary>
    public ChatRole Role { get; } = Enum.IsDefined(Role) ? Role : throw new ArgumentOutOfRangeException(nameof(Role), Role, "Unknown chat role.");

    /// <summary>What is said.</summary>
    public string Content { get; } = Content ?? throw new ArgumentNullException(nameof(Content));
}

/// <summary>Who speaks a <see cref="ChatMessage"/>.</summary>
public enum ChatRole
{
    /// <summary>Instructions that frame the whole conversation; at most one, first.</summary>
    System,

    /// <summary>The human turn; never trained on (unless the prompt is trained too).</summary>
    User,

    /// <summary>The model turn; every assistant turn is a training target.</summary>
    Assistant,
}
