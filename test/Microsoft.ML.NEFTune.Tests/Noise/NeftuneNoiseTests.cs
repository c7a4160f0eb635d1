using Microsoft.ML.NEFTune.Noise;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.Noise;

public class NeftuneNoiseTests
{
    private const long B = 4, T = 64, D = 128;

    private static Tensor Draw(NeftuneOptions options, Tensor? sequenceIds, long seed = 1)
    {
        using var noise = new NeftuneNoise(options, seed);
        using var embeds = zeros(B, T, D);
        return noise.Sample(embeds, sequenceIds);
    }

    [Fact]
    public void PerSequenceScalingUsesEachSequencesRealLengthAndLeavesPaddingClean()
    {
        var lengths = new long[] { 64, 40, 10, 1 };
        using var seq = stack(lengths.Select(l => cat(new[] { ones(l, ScalarType.Int64), zeros(T - l, ScalarType.Int64) })).ToArray());
        using var delta = Draw(new NeftuneOptions { Alpha = 5 }, seq);
        for (int b = 0; b < B; b++)
        {
            double mag = 5 / Math.Sqrt(lengths[b] * D);
            using var real = delta[b].narrow(0, 0, lengths[b]);
            Assert.InRange(real.abs().max().ToDouble(), mag * 0.9, mag * (1 + 1e-6));   // even 128 draws come within 10% of the bound
            if (lengths[b] < T)
                Assert.Equal(0.0, delta[b].narrow(0, lengths[b], T - lengths[b]).abs().max().ToDouble());
        }
    }

    [Fact]
    public void PackedExamplesEachGetTheirOwnLength()
    {
        // Row 0 packs a 48-token and a 16-token example; per-example scales differ.
        using var seq = cat(new[] { ones(48, ScalarType.Int64), full(16, 2L, ScalarType.Int64) }).unsqueeze(0).expand(B, T).contiguous();
        using var delta = Draw(new NeftuneOptions { Alpha = 5 }, seq);
        Assert.InRange(delta[0].narrow(0, 0, 48).abs().max().ToDouble(), 5 / Math.Sqrt(48 * D) * 0.99, 5 / Math.Sqrt(48 * D) * (1 + 1e-6));
        Assert.InRange(delta[0].narrow(0, 48, 16).abs().max().ToDouble(), 5 / Math.Sqrt(16 * D) * 0.99, 5 / Math.Sqrt(16 * D) * (1 + 1e-6));
    }

    [Fact]
    public void PaddedLengthScalingNoisesEveryPositionWithTheBatchLength()
    {
        using var seq = cat(new[] { ones(B, 10, ScalarType.Int64), zeros(B, T - 10, ScalarType.Int64) }, 1);
        using var delta = Draw(new NeftuneOptions { Alpha = 5, Scaling = NeftuneScaling.PaddedLength }, seq);
        double mag = 5 / Math.Sqrt(T * D);
        Assert.InRange(delta.narrow(1, 10, T - 10).abs().max().ToDouble(), mag * 0.99, mag * (1 + 1e-6));
        Assert.InRange(delta.narrow(1, 0, 10).abs().max().ToDouble(), mag * 0.99, mag * (1 + 1e-6));
    }

    [Fact]
    public void SameSeedGivesSameNoiseAndAnotherSeedDoesNot()
    {
        using var a = Draw(new NeftuneOptions(), null, seed: 3);
        using var b = Draw(new NeftuneOptions(), null, seed: 3);
        using var c = Draw(new NeftuneOptions(), null, seed: 4);
        Assert.True(a.allclose(b, rtol: 0, atol: 0));
        Assert.False(a.allclose(c, rtol: 0, atol: 0));
    }

    [Fact]
    public void ZeroAlphaReturnsTheEmbeddingsUntouched()
    {
        using var noise = new NeftuneNoise(new NeftuneOptions { Alpha = 0 }, 1);
        using var embeds = randn(2, 5, 8);
        using var result = noise.Apply(embeds, null);
        Assert.True(result.allclose(embeds, rtol: 0, atol: 0));
    }

    [Fact]
    public void NegativeAlphaIsRejected()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new NeftuneNoise(new NeftuneOptions { Alpha = -1 }, 1));
        Assert.Equal("Alpha", e.ParamName);
    }
}
