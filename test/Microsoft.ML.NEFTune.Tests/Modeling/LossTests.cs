using Microsoft.ML.NEFTune.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.Modeling;

public class LossTests
{
    [Fact]
    public void LabelledPositionsLossEqualsFullLogitsLossAndTheMathDefinition()
    {
        using var model = HuggingFaceCheckpoint.Load(Fixtures.StoriesHf);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var ids = tensor(new long[] { 1, 5, 9, 13, 17, 21, 25, 29, 1, 40, 41, 42 }).view(2, 6);
        var labels = tensor(new long[] { -100, -100, 9, 13, -100, 21, -100, 40, -100, 42, -100, -100 }).view(2, 6);
        var (viaIds, n1) = model.LossSum(ids, labels, null);
        var (viaLogits, n2) = model.LossSum(model.forward(ids), labels);
        Assert.Equal(5, n1);
        Assert.Equal(n1, n2);
        Assert.Equal(viaLogits.ToDouble(), viaIds.ToDouble(), 4);
        // By definition: −Σ log softmax(logits[b, t−1])[labels[b, t]] over labelled t ≥ 1.
        var logp = model.forward(ids).log_softmax(-1);
        double expected = -(logp[0, 1, 9].ToDouble() + logp[0, 2, 13].ToDouble() + logp[0, 4, 21].ToDouble() + logp[1, 0, 40].ToDouble() + logp[1, 2, 42].ToDouble());
        Assert.Equal(expected, viaIds.ToDouble(), 4);
    }
}
