using Microsoft.ML.NEFTune.Data;

namespace Microsoft.ML.NEFTune.Tests.Data;

[Collection(DataTestCollection.Name)]
public class PackerTests
{
    private const int Ignore = ExampleTokenizer.LabelIgnoreIndex;

    private static TokenizedExample[] Examples(params int[] lengths)
        => lengths.Select((n, i) =>
        {
            var ids = Enumerable.Range(0, n).Select(t => 100 * (i + 1) + t).ToArray();
            return new TokenizedExample(ids, ids.Select((id, t) => t < n / 2 ? Ignore : id).ToArray());
        }).ToArray();

    [Fact]
    public void PackingKeepsEveryExampleAndAssignsSequenceIds()
    {
        var examples = Examples(5, 3, 6, 2, 4, 7);

        var rows = Packer.Pack(examples, 10);

        Assert.Equal(Enumerable.Range(0, examples.Length), rows.SelectMany(r => r.ExampleIndices).Order());
        Assert.All(rows, r => Assert.True(r.Length <= 10));
        foreach (var row in rows)
        {
            int at = 0;
            for (int k = 0; k < row.SequenceCount; k++)
            {
                var example = examples[row.ExampleIndices[k]];
                Assert.Equal(example.InputIds, row.InputIds[at..(at + example.Length)]);
                Assert.Equal(example.Labels[1..], row.Labels[(at + 1)..(at + example.Length)]);
                Assert.Equal(Ignore, row.Labels[at]);
                Assert.All(row.SequenceIds[at..(at + example.Length)], id => Assert.Equal(k + 1, id));
                at += example.Length;
            }
            Assert.Equal(row.Length, at);
        }
    }

    [Fact]
    public void FirstFitDecreasingFillsRows()
    {
        var rows = Packer.Pack(Examples(5, 3, 6, 2, 4, 7), 10);

        // Longest first: 7 → row 0, 6 → row 1, 5 → row 2, 4 → row 1, 3 → row 0, 2 → row 2.
        Assert.Equal(new[] { new[] { 5, 1 }, new[] { 2, 4 }, new[] { 0, 3 } }, rows.Select(r => r.ExampleIndices));
    }

    [Fact]
    public void PackedTokenCountEqualsTheUnpackedOne()
    {
        var examples = Examples(5, 3, 6, 2, 4, 7);

        var packed = Batch.Collate(Packer.Pack(examples, 10));
        var unpacked = Batch.Collate(examples);

        Assert.Equal(unpacked.TokenCount, packed.TokenCount);
        Assert.Equal(3, packed.BatchSize);
        Assert.NotNull(packed.SequenceIds);
    }

    [Fact]
    public void ExampleLongerThanARowIsRejected()
    {
        var e = Assert.Throws<ArgumentException>(() => Packer.Pack(Examples(3, 11), 10));

        Assert.Contains("Example 1", e.Message);
    }
}
