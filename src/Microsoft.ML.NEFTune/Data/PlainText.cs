namespace Microsoft.ML.NEFTune.Data;

/// <summary>A document for continued pre-training: every token is a training target.</summary>
/// <param name="Text">The document text.</param>
public sealed record PlainText(string Text)
{
    /// <summary>The document text.</summary>
    public string Text { get; } = Text ?? throw new ArgumentNullException(nameof(Text));
}
