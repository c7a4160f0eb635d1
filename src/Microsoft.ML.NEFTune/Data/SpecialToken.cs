namespace Microsoft.ML.NEFTune.Data;

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
