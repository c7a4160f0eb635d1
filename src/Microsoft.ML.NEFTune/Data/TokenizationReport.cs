namespace Microsoft.ML.NEFTune.Data;

/// <summary>What <see cref="ExampleTokenizer"/> did with its input: kept, truncated and dropped examples, with reasons.</summary>
public sealed class TokenizationReport
{
    private readonly List<DroppedExample> dropped = new();

    /// <summary>Examples (or documents) seen.</summary>
    public int Total { get; private set; }

    /// <summary>Examples (or documents) kept, truncated or not.</summary>
    public int Kept { get; private set; }

    /// <summary>Kept examples that were cut to the maximum length.</summary>
    public int Truncated { get; private set; }

    /// <summary>Response tokens (targets) cut off by truncation, over all truncated examples.</summary>
    public long TruncatedTargetTokens { get; private set; }

    /// <summary>Rows produced: kept examples, or text chunks.</summary>
    public int Rows { get; private set; }

    /// <summary>Examples (or documents) left out.</summary>
    public int Dropped => dropped.Count;

    /// <summary>Each example left out, with the reason.</summary>
    public IReadOnlyList<DroppedExample> DroppedExamples => dropped;

    /// <summary>Examples left out, by reason.</summary>
    public IReadOnlyDictionary<DropReason, int> DroppedByReason => dropped.GroupBy(d => d.Reason).ToDictionary(g => g.Key, g => g.Count());

    internal void Keep(int rows, bool truncated, int targetTokensCut)
    {
        Total++;
        Kept++;
        Rows += rows;
        if (truncated) Truncated++;
        TruncatedTargetTokens += targetTokensCut;
    }

    internal void Drop(int index, DropReason reason, int length)
    {
        Total++;
        dropped.Add(new DroppedExample(index, reason, length));
    }

    /// <inheritdoc/>
    public override string ToString()
    {
        var text = $"{Total} seen, {Kept} kept ({Truncated} truncated, {TruncatedTargetTokens} response tokens cut), {Dropped} dropped";
        return Dropped == 0 ? text : text + " (" + string.Join(", ", DroppedByReason.OrderBy(p => p.Key).Select(p => $"{p.Key}: {p.Value}")) + ")";
    }
}

/// <summary>Tokenized rows and the report of how they were made.</summary>
/// <param name="Examples">The rows, in input order.</param>
/// <param name="Report">Counts of kept, truncated and dropped inputs.</param>
public sealed record TokenizationResult(IReadOnlyList<TokenizedExample> Examples, TokenizationReport Report);

/// <summary>An example (or document) left out by <see cref="ExampleTokenizer"/>.</summary>
/// <param name="Index">0-based position in the input sequence.</param>
/// <param name="Reason">Why.</param>
/// <param name="Length">Its length in tokens before truncation (0 when it was not encoded).</param>
public sealed record DroppedExample(int Index, DropReason Reason, int Length);

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
