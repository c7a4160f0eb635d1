namespace Microsoft.ML.NEFTune.Data;

/// <summary>
/// Splits rows into batches, epoch after epoch. The order of epoch e depends only on (seed, e), through a
/// SplitMix64 Fisher–Yates shuffle, so it is the same on every run and platform and a resumed run sees exactly
/// the batches an uninterrupted run would. With
/// <see cref="BatchSamplerOptions.GroupByLength"/>, the shuffled rows are cut into mega-batches, each sorted by
/// length (longest first), split into batches, and the batch order is shuffled with the batch holding the
/// longest row moved to the front (so memory peaks at the first step).
/// </summary>
public sealed class BatchSampler
{
    private readonly int[] lengths;

    /// <param name="lengths">Length of each row (only used to group by length).</param>
    /// <param name="options">Batch size, seed and grouping; null for the defaults.</param>
    public BatchSampler(IReadOnlyList<int> lengths, BatchSamplerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(lengths);
        Options = options ?? new BatchSamplerOptions();
        Options.Validate();
        this.lengths = lengths.ToArray();
        int full = lengths.Count / Options.BatchSize;
        BatchesPerEpoch = Options.DropLast || lengths.Count % Options.BatchSize == 0 ? full : full + 1;
    }

    /// <param name="count">Number of rows (without length grouping).</param>
    /// <param name="options">Batch size and seed; null for the defaults.</param>
    public BatchSampler(int count, BatchSamplerOptions? options = null)
        : this(Enumerable.Repeat(1, count >= 0 ? count : throw new ArgumentOutOfRangeException(nameof(count), count, "The row count must not be negative.")).ToArray(), options)
    {
    }

    /// <summary>The settings.</summary>
    public BatchSamplerOptions Options { get; }

    /// <summary>Rows sampled from.</summary>
    public int RowCount => lengths.Length;

    /// <summary>Batches in every epoch (0 when there are no rows, or too few for one batch with <see cref="BatchSamplerOptions.DropLast"/>).</summary>
    public int BatchesPerEpoch { get; }

    /// <summary>The batches of epoch <paramref name="epoch"/>, in order.</summary>
    public IReadOnlyList<int[]> Batches(int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        var rng = new SplitMix64(SplitMix64.Derive(Options.Seed, epoch));
        var order = Enumerable.Range(0, lengths.Length).ToArray();
        if (Options.Shuffle) rng.Shuffle(order);
        if (Options.GroupByLength) order = SortWithinMegaBatches(order);

        int B = Options.BatchSize;
        var batches = new List<int[]>(BatchesPerEpoch);
        for (int start = 0; start < order.Length && batches.Count < BatchesPerEpoch; start += B)
            batches.Add(order[start..Math.Min(start + B, order.Length)]);

        if (Options.GroupByLength && batches.Count > 1)
        {
            if (Options.Shuffle) rng.Shuffle(batches);
            int longest = 0;
            for (int i = 1; i < batches.Count; i++)
                if (batches[i].Max(r => lengths[r]) > batches[longest].Max(r => lengths[r])) longest = i;
            (batches[0], batches[longest]) = (batches[longest], batches[0]);
        }
        return batches;
    }

    private int[] SortWithinMegaBatches(int[] order)
    {
        int multiplier = Options.MegaBatchMultiplier ?? Math.Max(1, Math.Min(order.Length / (4 * Options.BatchSize), 50));
        int size = multiplier * Options.BatchSize;
        var sorted = new int[order.Length];
        for (int start = 0; start < order.Length; start += size)
        {
            var mega = order[start..Math.Min(start + size, order.Length)];
            var byLength = mega.Select((row, position) => (row, position))
                .OrderByDescending(p => lengths[p.row]).ThenBy(p => p.position).Select(p => p.row).ToArray();
            byLength.CopyTo(sorted, start);
        }
        return sorted;
    }
}
