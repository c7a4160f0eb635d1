using Microsoft.ML.NEFTune.Data;

namespace Microsoft.ML.NEFTune.Training;

/// <summary>
/// The micro-batches of a data set for each epoch, a pure function of (seed, epoch, index), so a resumed run
/// sees exactly the batches an uninterrupted one would.
/// </summary>
public sealed class TrainingBatches
{
    private readonly IReadOnlyList<TokenizedExample> examples;
    private readonly int batchSize;
    private readonly long seed;
    private readonly bool groupByLength, shuffle;
    private readonly int padId;
    private int cachedEpoch = -1;
    private IReadOnlyList<int[]>? cachedOrder;

    public TrainingBatches(IReadOnlyList<TokenizedExample> examples, int batchSize, long seed, bool groupByLength, int padId, bool shuffle)
    {
        this.examples = examples; this.batchSize = batchSize; this.seed = seed; this.groupByLength = groupByLength; this.padId = padId; this.shuffle = shuffle;
        BatchCount = (examples.Count + batchSize - 1) / batchSize;
    }

    public int BatchCount { get; }

    public Batch Batch(int epoch, int index)
    {
        if (cachedEpoch != epoch || cachedOrder is null)
        {
            cachedOrder = shuffle
                ? new BatchSampler(examples.Select(e => e.InputIds.Length).ToArray(), batchSize, seed, groupByLength).Batches(epoch)
                : Enumerable.Range(0, BatchCount).Select(b => Enumerable.Range(b * batchSize, Math.Min(batchSize, examples.Count - b * batchSize)).ToArray()).ToList();
            cachedEpoch = epoch;
        }
        return Microsoft.ML.NEFTune.Data.Batch.Collate(cachedOrder[index].Select(i => examples[i]).ToList(), padId);
    }

    /// <summary>A fixed, seeded sample of up to <paramref name="count"/> examples.</summary>
    public static IReadOnlyList<TokenizedExample> Sample(IReadOnlyList<TokenizedExample> examples, int count, long seed)
    {
        var order = new BatchSampler(new int[examples.Count], 1, seed ^ 0x5EED, groupByLength: false).Batches(0).Select(b => b[0]);
        return order.Take(count).OrderBy(i => i).Select(i => examples[i]).ToList();
    }
}
