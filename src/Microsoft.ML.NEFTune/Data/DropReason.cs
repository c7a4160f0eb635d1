namespace Microsoft.ML.NEFTune.Data;

/// <summary>Why <see cref="ExampleTokenizer"/> left an example or document out.</summary>
public enum DropReason
{
    /// <summary>The example has no response to learn (empty output, or no assistant turn).</summary>
    NoResponse,

    /// <summary>The prompt fills the maximum length, so no response token would remain after truncation.</summary>
    PromptTooLong,

    /// <summary>The example is longer than the maximum length and <see cref="TruncationMode.Drop"/> is set.</summary>
    TooLong,

    /// <summary>The document encodes to no tokens.</summary>
    EmptyDocument,
}
