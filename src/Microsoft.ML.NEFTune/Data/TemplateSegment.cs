namespace Microsoft.ML.NEFTune.Data;

/// <summary>
/// A piece of a rendered example: text, or a control token (<see cref="Special"/>, with empty text).
/// Target segments are what the model learns to produce; the others are context.
/// </summary>
/// <param name="Text">The text ("" for a control token).</param>
/// <param name="IsTarget">True for the response (trained), false for the prompt (masked).</param>
public sealed record TemplateSegment(string Text, bool IsTarget)
{
    /// <summary>The text ("" for a control token).</summary>
    public string Text { get; } = Text ?? throw new ArgumentNullException(nameof(Text));

    /// <summary>The control token this segment stands for, or <see cref="SpecialToken.None"/> for text.</summary>
    public SpecialToken Special { get; init; }

    /// <summary>The end-of-sequence token, closing a response when <paramref name="isTarget"/>.</summary>
    public static TemplateSegment Eos(bool isTarget) => new("", isTarget) { Special = SpecialToken.Eos };

    /// <summary>The beginning-of-sequence token (context).</summary>
    public static TemplateSegment Bos() => new("", false) { Special = SpecialToken.Bos };
}

/// <summary>A control token a <see cref="TemplateSegment"/> stands for, inserted by id rather than encoded from text.</summary>
public enum SpecialToken
{
    /// <summary>An ordinary text segment.</summary>
    None,

    /// <summary>The tokenizer's beginning-of-sequence id (<see cref="IO.Tokenizers.TextTokenizer.BosId"/>).</summary>
    Bos,

    /// <summary>The tokenizer's end-of-sequence id (<see cref="IO.Tokenizers.TextTokenizer.EosId"/>).</summary>
    Eos,
}
