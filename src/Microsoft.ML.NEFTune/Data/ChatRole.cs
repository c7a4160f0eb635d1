namespace Microsoft.ML.NEFTune.Data;

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
