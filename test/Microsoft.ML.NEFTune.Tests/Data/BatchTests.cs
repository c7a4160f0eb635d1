using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.IO;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.Data;

[Collection(DataTestCollection.Name)]
public class BatchTests
{
    private const int Ignore = ExampleTokenizer.LabelIgnoreIndex;

    private static TokenizedExample Example(int[] ids, int promptLength)
        => new(ids, ids.Select((id, t) => t < promptLength ? Ignore : id).ToArray());

    [Fact]
    public void CollatePadsOnTheRightWithThePadIdAndIgnoredLabels()
    {
        var batch = Batch.Collate(new[] { Example(new[] { 1, 5, 6, 7 }, 2), Example(new[] { 1, 8 }, 1) }, padId: 9);

        Assert.Equal((2, 4), (batch.BatchSize, batch.Length));
        Assert.Equal(new long[] { 1, 5, 6, 7, 1, 8, 9, 9 }, batch.InputIds);
        Assert.Equal(new long[] { Ignore, Ignore, 6, 7, Ignore, 8, Ignore, Ignore }, batch.Labels);
        Assert.Equal(new long[] { 1, 1, 1, 1, 1, 1, 0, 0 }, batch.SequenceIds);
    }

    [Fact]
    public void SequenceIdsAreNullWithoutPaddingOrPacking()
    {
        var batch = Batch.Collate(new[] { Example(new[] { 1, 5, 6 }, 1), Example(new[] { 1, 7, 8 }, 1) });

        Assert.Null(batch.SequenceIds);
    }

    [Fact]
    public void TokenCountSkipsTheFirstPositionOfEveryRow()
    {
        var allLabelled = new TokenizedExample(new[] { 1, 5, 6 }, new[] { 1, 5, 6 });
        var batch = Batch.Collate(new[] { allLabelled, Example(new[] { 1, 7, 8, 9, 10 }, 3) });

        Assert.Equal(2 + 2, batch.TokenCount);
    }

    [Fact]
    public void TensorsHaveTheBatchShapeAndValues()
    {
        var batch = Batch.Collate(new[] { Example(new[] { 1, 5, 6, 7 }, 2), Example(new[] { 1, 8 }, 1) });

        var (ids, labels, sequenceIds) = batch.ToTensors(CPU);
        using (ids) using (labels) using (sequenceIds)
        {
            Assert.Equal(new long[] { 2, 4 }, ids.shape);
            Assert.Equal(ScalarType.Int64, labels.dtype);
            Assert.Equal(batch.InputIds, ids.data<long>().ToArray());
            Assert.Equal(batch.Labels, labels.data<long>().ToArray());
            Assert.Equal(batch.SequenceIds, sequenceIds!.data<long>().ToArray());
        }
    }

    [Fact]
    public void TokenCountEqualsTheModelsLossCount()
    {
        using var model = HuggingFaceCheckpoint.Load(Fixtures.StoriesHf);
        var examples = new[] { Example(new[] { 1, 50, 60, 70, 80 }, 2), Example(new[] { 1, 90, 91 }, 1), Example(new[] { 1, 20, 21, 22 }, 3) };

        foreach (var batch in new[] { Batch.Collate(examples), Batch.Collate(Packer.Pack(examples, 8)) })
        {
            var (ids, labels, sequenceIds) = batch.ToTensors(CPU);
            using (ids) using (labels) using (sequenceIds)
            using (no_grad())
            using (var logits = model.forward(ids, sequenceIds))
            {
                var (sum, count) = model.LossSum(logits, labels);
                sum.Dispose();
                Assert.Equal(batch.TokenCount, count);
            }
        }
    }
}
