namespace Microsoft.ML.NEFTune.Data;

/// <summary>
/// One row of a batch holding one or more examples back to back, with per-position sequence ids 1..k
/// (k-th example of the row). The first label of every example is ignored, so no position is trained to predict
/// the start of the next example from the end of the previous one.
/// </summary>
public sealed class PackedRow
{
    /// <summary>A row from its arrays (all of one length) and the indices of the examples it holds.</summary>
    public PackedRow(int[] inputIds, int[] labels, int[] sequenceIds, int[] exampleIndices)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(sequenceIds);
        ArgumentNullException.ThrowIfNull(exampleIndices);
        if (labels.Length != inputIds.Length) throw new ArgumentException($"There are {inputIds.Length} ids but {labels.Length} labels.", nameof(labels));
        if (sequenceIds.Length != inputIds.Length) throw new ArgumentException($"There are {inputIds.Length} ids but {sequenceIds.Length} sequence ids.", nameof(sequenceIds));
        InputIds = inputIds;
        Labels = labels;
        SequenceIds = sequenceIds;
        ExampleIndices = exampleIndices;
    }

    /// <summary>The token ids.</summary>
    public int[] InputIds { get; }

    /// <summary>The labels.</summary>
    public int[] Labels { get; }

    /// <summary>Per position, 1-based index of the example in this row.</summary>
    public int[] SequenceIds { get; }

    /// <summary>Indices (into the packed list) of the examples in this row, in row order.</summary>
    public int[] ExampleIndices { get; }

    /// <summary>Number of tokens.</summary>
    public int Length => InputIds.Length;

    /// <summary>Number of examples in the row.</summary>
    public int SequenceCount => ExampleIndices.Length;

    /// <summary>A row holding one example.</summary>
    public static PackedRow FromExample(TokenizedExample example, int index = 0)
    {
        ArgumentNullException.ThrowIfNull(example);
        var sequenceIds = new int[example.Length];
        Array.Fill(sequenceIds, 1);
        return new PackedRow(example.InputIds, example.Labels, sequenceIds, new[] { index });
    }
}
