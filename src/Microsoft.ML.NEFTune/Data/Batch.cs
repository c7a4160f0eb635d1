using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Data;

/// <summary>
/// A training batch as row-major (B, T) arrays: ids, labels and, when any row is padded or packed, sequence ids
/// (0 = padding, k &gt; 0 = k-th example of the row) — the <c>sequenceIds</c> argument of the model. Rows are padded
/// on the right to the longest row with the pad id; padding is labelled <see cref="ExampleTokenizer.LabelIgnoreIndex"/>.
/// </summary>
public sealed class Batch
{
    /// <summary>A batch from row-major (B, T) arrays; <see cref="TokenCount"/> comes from the labels, <see cref="TotalTokens"/> from the sequence ids (all positions when null).</summary>
    public Batch(int batchSize, int length, long[] inputIds, long[] labels, long[]? sequenceIds)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        ArgumentNullException.ThrowIfNull(inputIds);
        ArgumentNullException.ThrowIfNull(labels);
        long size = (long)batchSize * length;
        if (inputIds.Length != size) throw new ArgumentException($"Expected {size} ids for ({batchSize}, {length}), got {inputIds.Length}.", nameof(inputIds));
        if (labels.Length != size) throw new ArgumentException($"Expected {size} labels for ({batchSize}, {length}), got {labels.Length}.", nameof(labels));
        if (sequenceIds is not null && sequenceIds.Length != size) throw new ArgumentException($"Expected {size} sequence ids for ({batchSize}, {length}), got {sequenceIds.Length}.", nameof(sequenceIds));
        BatchSize = batchSize;
        Length = length;
        InputIds = inputIds;
        Labels = labels;
        SequenceIds = sequenceIds;
        long count = 0;
        for (int b = 0; b < batchSize; b++)
            for (int t = 1; t < length; t++)
                if (labels[(long)b * length + t] != ExampleTokenizer.LabelIgnoreIndex) count++;
        TokenCount = count;
        TotalTokens = sequenceIds is null ? size : sequenceIds.LongCount(id => id != 0);
    }

    /// <summary>Rows (B).</summary>
    public int BatchSize { get; }

    /// <summary>Positions per row (T), the longest row's length.</summary>
    public int Length { get; }

    /// <summary>(B, T) token ids, row-major.</summary>
    public long[] InputIds { get; }

    /// <summary>(B, T) labels, row-major.</summary>
    public long[] Labels { get; }

    /// <summary>(B, T) sequence ids, row-major; null when every row is one unpadded example.</summary>
    public long[]? SequenceIds { get; }

    /// <summary>
    /// Positions the loss counts, as the model counts them after its one-position shift: labels[b, t] not ignored, t ≥ 1.
    /// </summary>
    public long TokenCount { get; }

    /// <summary>Same as <see cref="TokenCount"/>: the positions the loss counts.</summary>
    public long LabelledTokens => TokenCount;

    /// <summary>Real (non-padding) tokens.</summary>
    public long TotalTokens { get; }

    /// <summary>Right-pads examples (one per row) to the longest.</summary>
    /// <param name="examples">The rows.</param>
    /// <param name="padId">The padding id (<see cref="IO.Tokenizers.TextTokenizer.PaddingId"/>).</param>
    public static Batch Collate(IReadOnlyList<TokenizedExample> examples, int padId = 0)
    {
        ArgumentNullException.ThrowIfNull(examples);
        return Collate(examples.Select((e, i) => PackedRow.FromExample(e ?? throw new ArgumentException($"Example {i} is null.", nameof(examples)), i)).ToArray(), padId);
    }

    /// <summary>Right-pads packed rows to the longest.</summary>
    /// <param name="rows">The rows.</param>
    /// <param name="padId">The padding id (<see cref="IO.Tokenizers.TextTokenizer.PaddingId"/>).</param>
    public static Batch Collate(IReadOnlyList<PackedRow> rows, int padId = 0)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0) throw new ArgumentException("A batch needs at least one row.", nameof(rows));
        for (int i = 0; i < rows.Count; i++)
        {
            if (rows[i] is null) throw new ArgumentException($"Row {i} is null.", nameof(rows));
            if (rows[i].Length == 0) throw new ArgumentException($"Row {i} is empty.", nameof(rows));
        }
        int B = rows.Count, T = rows.Max(r => r.Length);
        var ids = new long[B * T];
        var labels = new long[B * T];
        var sequenceIds = new long[B * T];
        bool needed = false;
        for (int b = 0; b < B; b++)
        {
            var row = rows[b];
            needed |= row.Length < T || row.SequenceCount > 1;
            int offset = b * T;
            for (int t = 0; t < T; t++)
            {
                bool real = t < row.Length;
                ids[offset + t] = real ? row.InputIds[t] : padId;
                labels[offset + t] = real ? row.Labels[t] : ExampleTokenizer.LabelIgnoreIndex;
                sequenceIds[offset + t] = real ? row.SequenceIds[t] : 0;
            }
        }
        return new Batch(B, T, ids, labels, needed ? sequenceIds : null);
    }

    /// <summary>The batch as int64 tensors of shape (B, T) on <paramref name="device"/>; the caller disposes them.</summary>
    public (Tensor InputIds, Tensor Labels, Tensor? SequenceIds) ToTensors(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        var shape = new long[] { BatchSize, Length };
        var ids = tensor(InputIds, shape, ScalarType.Int64, device);
        var labels = tensor(Labels, shape, ScalarType.Int64, device);
        var sequenceIds = SequenceIds is null ? null : tensor(SequenceIds, shape, ScalarType.Int64, device);
        return (ids, labels, sequenceIds);
    }
}
