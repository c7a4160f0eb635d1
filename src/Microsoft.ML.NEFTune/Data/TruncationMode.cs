namespace Microsoft.ML.NEFTune.Data;

/// <summary>What <see cref="ExampleTokenizer"/> does with an example longer than <see cref="ExampleTokenizerOptions.MaxLength"/>.</summary>
public enum TruncationMode
{
    /// <summary>Cut the end off; an example with no response token left within the limit is dropped.</summary>
    TruncateResponse,

    /// <summary>Drop the example.</summary>
    Drop,
}
