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
