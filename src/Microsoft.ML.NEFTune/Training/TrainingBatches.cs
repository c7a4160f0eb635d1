using Microsoft.ML.NEFTune.Data;

namespace Microsoft.ML.NEFTune.Training;

/// <summary>
/// The micro-batches of a data set for each epoch, a pure function of (seed, epoch, index), so a resumed run
/// sees exactly the batches an uninterrupted one would. Rows are single examples, or several examples packed
/// into one row when a packing length is given.
/// </summary>
public sealed class TrainingBatches
{
    private readonly IReadOnlyList<PackedRow> rows;
    private readonly BatchSampler sampler;
    private readonly int padId;
    private int cachedEpoch = -1;
    private IReadOnlyList<int[]>? cachedOrder;

    public TrainingBatches(IReadOnlyList<TokenizedExample> examples, int batchSize, long seed, bool groupByLength, int padId, bool shuffle, int? packingLength = null)
    {
        rows = packingLength is int length ? Packer.Pack(examples, length) : examples.Select((e, i) => PackedRow.FromExample(e, i)).ToList();
        sampler = new BatchSampler(rows.Select(r => r.Length).ToList(), new BatchSamplerOptions { BatchSize = batchSize, Seed = seed, Shuffle = shuffle, GroupByLength = groupByLength && shuffle });
        this.padId = padId;
    }

    public int BatchCount => sampler.BatchesPerEpoch;

    /// <summary>Rows after packing (the number of examples without packing).</summary>
    public int RowCount => rows.Count;

    public Batch Batch(int epoch, int index)
    {
        if (cachedEpoch != epoch || cachedOrder is null)
        {
            cachedOrder = sampler.Batches(epoch);
            cachedEpoch = epoch;
        }
        return Microsoft.ML.NEFTune.Data.Batch.Collate(cachedOrder[index].Select(i => rows[i]).ToList(), padId);
    }

    /// <summary>A fixed, seeded sample of up to <paramref name="count"/> examples, in their original order.</summary>
    public static IReadOnlyList<TokenizedExample> Sample(IReadOnlyList<TokenizedExample> examples, int count, long seed)
    {
        var order = new BatchSampler(examples.Count, new BatchSamplerOptions { BatchSize = 1, Seed = RandomStreams.TrainSampleSeed(seed), Shuffle = true }).Batches(0).Select(b => b[0]);
        return order.Take(count).OrderBy(i => i).Select(i => examples[i]).ToList();
    }
}
