namespace Microsoft.ML.NEFTune.Data;

/// <summary>Settings of <see cref="ExampleTokenizer"/>.</summary>
public sealed record ExampleTokenizerOptions
{
    /// <summary>Most tokens per example (and per text chunk), BOS and EOS included. Default 512, as in the Alpaca and NEFTune training code.</summary>
    public int MaxLength { get; init; } = 512;

    /// <summary>Train on the prompt too (labels equal the ids everywhere). Default false: only responses are trained.</summary>
    public bool TrainOnPrompt { get; init; }

    /// <summary>What to do with examples longer than <see cref="MaxLength"/>. Default <see cref="TruncationMode.TruncateResponse"/>.</summary>
    public TruncationMode Truncation { get; init; } = TruncationMode.TruncateResponse;

    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate()
    {
        if (MaxLength < 2) throw new ArgumentOutOfRangeException(nameof(MaxLength), MaxLength, "The maximum length must be at least 2 tokens.");
        if (!Enum.IsDefined(Truncation)) throw new ArgumentOutOfRangeException(nameof(Truncation), Truncation, "Unknown truncation mode.");
    }
}

/// <summary>What <see cref="ExampleTokenizer"/> does with an example longer than <see cref="ExampleTokenizerOptions.MaxLength"/>.</summary>
public enum TruncationMode
{
    /// <summary>Cut the end off; an example with no response token left within the limit is dropped.</summary>
    TruncateResponse,

    /// <summary>Drop the example.</summary>
    Drop,
}
