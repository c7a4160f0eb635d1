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
