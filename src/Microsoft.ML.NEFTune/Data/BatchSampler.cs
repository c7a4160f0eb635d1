namespace Microsoft.ML.NEFTune.Data;

/// <summary>Seeded, platform-independent batch order per epoch, optionally grouped by length to cut padding.</summary>
public sealed class BatchSampler
{
    private readonly int[] lengths;
    private readonly int batchSize;
    private readonly long seed;
    private readonly bool groupByLength;

    public BatchSampler(int[] lengths, int batchSize, long seed, bool groupByLength)
    {
        this.lengths = lengths; this.batchSize = batchSize; this.seed = seed; this.groupByLength = groupByLength;
    }

    public IReadOnlyList<int[]> Batches(int epoch)
    {
        var rng = new SplitMix64((ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)epoch);
        var order = Enumerable.Range(0, lengths.Length).ToArray();
        rng.Shuffle(order);
        if (groupByLength)
        {
            int mega = batchSize * 50;
            for (int start = 0; start < order.Length; start += mega)
                Array.Sort(order, start, Math.Min(mega, order.Length - start), Comparer<int>.Create((a, b) => lengths[b].CompareTo(lengths[a]) is var c && c != 0 ? c : a.CompareTo(b)));
        }
        var batches = new List<int[]>();
        for (int i = 0; i < order.Length; i += batchSize) batches.Add(order[i..Math.Min(order.Length, i + batchSize)]);
        if (groupByLength)
        {
            var shuffled = batches.ToArray();
            rng.Shuffle(shuffled);
            return shuffled;
        }
        return batches;
    }

    private sealed class SplitMix64(ulong state)
    {
        public ulong Next()
        {
            ulong z = state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        public void Shuffle<T>(T[] items)
        {
            for (int i = items.Length - 1; i > 0; i--)
            {
                int j = (int)(Next() % (ulong)(i + 1));
                (items[i], items[j]) = (items[j], items[i]);
            }
        }
    }
}
