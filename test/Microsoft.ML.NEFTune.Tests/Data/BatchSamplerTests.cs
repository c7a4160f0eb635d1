using Microsoft.ML.NEFTune.Data;

namespace Microsoft.ML.NEFTune.Tests.Data;

[Collection(DataTestCollection.Name)]
public class BatchSamplerTests
{
    private static BatchSampler Sampler(int rows, int batchSize, long seed = 42, bool dropLast = false)
        => new(rows, new BatchSamplerOptions { BatchSize = batchSize, Seed = seed, DropLast = dropLast });

    [Fact]
    public void SplitMix64ReproducesTheReferenceSequence()
    {
        var rng = new SplitMix64(1234567);

        Assert.Equal(new[] { 6457827717110365317UL, 3203168211198807973UL, 9817491932198370423UL, 4593380528125082431UL, 16408922859458223821UL },
            Enumerable.Range(0, 5).Select(_ => rng.NextUInt64()));
    }

    [Fact]
    public void EpochOrderIsFixedForASeed()
    {
        // Fisher–Yates over 0..9 driven by SplitMix64 seeded with Derive(42, epoch 0), as documented in docs/data.md.
        Assert.Equal(new[] { new[] { 7, 8, 6 }, new[] { 3, 4, 5 }, new[] { 2, 0, 9 }, new[] { 1 } }, Sampler(10, 3).Batches(0));
    }

    [Fact]
    public void SameSeedGivesTheSameBatchesAndAnotherSeedDifferentOnes()
    {
        static List<int[]> ThreeEpochs(long seed) => Enumerable.Range(0, 3).SelectMany(e => Sampler(100, 8, seed).Batches(e)).ToList();
        var a = ThreeEpochs(7);
        var b = ThreeEpochs(7);
        var c = ThreeEpochs(8);

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void EveryRowComesOncePerEpochAndEpochsDiffer()
    {
        var sampler = Sampler(50, 8);

        var first = sampler.Batches(0);
        var second = sampler.Batches(1);

        Assert.Equal(7, sampler.BatchesPerEpoch);
        Assert.Equal(Enumerable.Range(0, 50), first.SelectMany(b => b).Order());
        Assert.Equal(Enumerable.Range(0, 50), second.SelectMany(b => b).Order());
        Assert.NotEqual(first.SelectMany(b => b), second.SelectMany(b => b));
    }

    [Fact]
    public void DropLastLeavesOutTheIncompleteBatch()
    {
        var batches = Sampler(10, 4, dropLast: true).Batches(0);

        Assert.Equal(2, batches.Count);
        Assert.All(batches, b => Assert.Equal(4, b.Length));
    }

    [Fact]
    public void SamplerWithoutBatchesYieldsNothing()
    {
        Assert.Empty(Sampler(0, 4).Batches(0));
        Assert.Equal(0, Sampler(3, 4, dropLast: true).BatchesPerEpoch);
    }

    [Fact]
    public void GroupingByLengthReducesPaddingOnAlpaca()
    {
        var examples = DatasetReader.Read(Fixtures.AlpacaDemo).Examples;
        var rows = new ExampleTokenizer(new CharTokenizer(), PromptTemplate.Get("alpaca")).Tokenize(examples).Examples;
        var lengths = rows.Select(r => r.Length).ToArray();
        var options = new BatchSamplerOptions { BatchSize = 8, Seed = 3 };

        var random = new BatchSampler(lengths, options).Batches(0);
        var grouped = new BatchSampler(lengths, options with { GroupByLength = true }).Batches(0);

        long Padding(IReadOnlyList<int[]> batches) => batches.Sum(b => (long)b.Length * b.Max(i => lengths[i]) - b.Sum(i => lengths[i]));
        Assert.Equal(Enumerable.Range(0, lengths.Length), grouped.SelectMany(b => b).Order());
        Assert.True(Padding(grouped) * 3 < Padding(random), $"grouped {Padding(grouped)} vs random {Padding(random)} padding tokens");
        Assert.Equal(lengths.Max(), grouped[0].Max(i => lengths[i]));
    }

    [Fact]
    public void SplitIsSeededDisjointAndComplete()
    {
        var items = Enumerable.Range(0, 100).ToArray();

        var (train, validation) = DatasetSplit.Split(items, 0.1, seed: 5);
        var again = DatasetSplit.Split(items, 0.1, seed: 5);
        var other = DatasetSplit.Split(items, 0.1, seed: 6);

        Assert.Equal((90, 10), (train.Count, validation.Count));
        Assert.Equal(items, train.Concat(validation).Order());
        Assert.Equal(validation.Order(), validation);
        Assert.Equal(validation, again.Validation);
        Assert.NotEqual(validation, other.Validation);
    }
}
