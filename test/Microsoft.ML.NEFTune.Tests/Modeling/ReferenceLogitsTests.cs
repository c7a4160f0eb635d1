using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.Modeling;

public class ReferenceLogitsTests
{
    private static readonly ReferenceOutputs Reference = ReferenceOutputs.Load();

    internal static double MaxAbsDiffFromReference(LlamaForCausalLM model)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var ids = tensor(Reference.InputIds, dtype: ScalarType.Int64).unsqueeze(0);
        var logits = model.forward(ids)[0].to_type(ScalarType.Float64);                // (T, V)
        var expected = tensor(Reference.Logits.SelectMany(r => r).ToArray()).view(logits.shape);
        return (logits - expected).abs().max().item<double>();
    }

    [Fact]
    public void Llama2cCheckpointReproducesReferenceLogits()
    {
        using var model = Llama2cCheckpoint.Load(Fixtures.StoriesBin);
        Assert.InRange(MaxAbsDiffFromReference(model), 0, 1e-4);
    }

    [Fact]
    public void HuggingFaceCheckpointReproducesReferenceLogits()
    {
        using var model = HuggingFaceCheckpoint.Load(Fixtures.StoriesHf);
        Assert.InRange(MaxAbsDiffFromReference(model), 0, 1e-4);
    }

    [Fact]
    public void PaddedBatchGivesTheSameLogitsAsTheUnpaddedSequence()
    {
        using var model = HuggingFaceCheckpoint.Load(Fixtures.StoriesHf);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var ids = tensor(Reference.InputIds.Take(10).ToArray()).unsqueeze(0);
        var plain = model.forward(ids)[0];
        // The same 10 tokens left-padded by 3 and right-padded by 2 in a row of 15.
        var padded = cat(new[] { zeros(1, 3, ScalarType.Int64), ids, zeros(1, 2, ScalarType.Int64) }, 1);
        var seq = cat(new[] { zeros(1, 3, ScalarType.Int64), ones(1, 10, ScalarType.Int64), zeros(1, 2, ScalarType.Int64) }, 1);
        var logits = model.forward(padded, seq)[0].narrow(0, 3, 10);
        Assert.True(allclose(plain, logits, rtol: 0, atol: 1e-4));
    }

    [Fact]
    public void PackedSequencesAttendOnlyWithinThemselves()
    {
        using var model = HuggingFaceCheckpoint.Load(Fixtures.StoriesHf);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var a = tensor(Reference.InputIds.Take(7).ToArray()).unsqueeze(0);
        var b = tensor(Reference.InputIds.Skip(7).Take(9).ToArray()).unsqueeze(0);
        var packed = cat(new[] { a, b }, 1);
        var seq = cat(new[] { ones(1, 7, ScalarType.Int64), full(1, 9, 2L, ScalarType.Int64) }, 1);
        var logits = model.forward(packed, seq)[0];
        Assert.True(allclose(model.forward(a)[0], logits.narrow(0, 0, 7), rtol: 0, atol: 1e-4));
        Assert.True(allclose(model.forward(b)[0], logits.narrow(0, 7, 9), rtol: 0, atol: 1e-4));
    }
}
