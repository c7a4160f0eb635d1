using Microsoft.ML.NEFTune.Noise;
using Microsoft.ML.NEFTune.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.Noise;

public class OneNoiseAtATimeTests
{
    private static readonly Tensor Ids = tensor(new long[] { 1, 5, 9, 13, 17, 21, 25, 29 }).view(1, 8);

    [Fact]
    public void AttachingNeftuneTwiceIsAnErrorNamingBoth()
    {
        using var model = TinyModels.Create();
        using var first = Neftune.Attach(model, new NeftuneOptions { Alpha = 5 }, seed: 1);

        var e = Assert.Throws<InvalidOperationException>(() => Neftune.Attach(model, new NeftuneOptions { Alpha = 15, Distribution = NeftuneDistribution.Gaussian }, seed: 2));

        Assert.Contains("NEFTune noise (uniform, alpha 5, per-sequence)", e.Message);
        Assert.Contains("NEFTune noise (gaussian, alpha 15, per-sequence)", e.Message);
        Assert.Same(first, model.Model.EmbeddingTransform);
    }

    [Fact]
    public void TrainingAModelWithAttachedNoiseIsAnErrorNamingBoth()
    {
        using var model = TinyModels.Create();
        using var attached = Neftune.Attach(model, new NeftuneOptions { Alpha = 15 }, seed: 1);
        var options = new TrainingOptions { Noise = new NeftuneOptions { Alpha = 5, Scaling = NeftuneScaling.PaddedLength }, MaxSteps = 1 };

        var e = Assert.Throws<InvalidOperationException>(() => new NeftuneTrainer(model, TinyModels.PatternExamples(4), null, options));

        Assert.Contains("NEFTune noise (uniform, alpha 15, per-sequence)", e.Message);
        Assert.Contains("NEFTune noise (uniform, alpha 5, padded-length)", e.Message);
    }

    [Fact]
    public void TrainingAModelWhoseEmbeddingWasWrappedWithNoiseIsAnError()
    {
        using var model = TinyModels.Create();
        using var noise = new NeftuneNoise(new NeftuneOptions { Alpha = 10 }, seed: 1);
        Neftune.Attach(model, "model.embed_tokens", noise);

        var e = Assert.Throws<InvalidOperationException>(() => new NeftuneTrainer(model, TinyModels.PatternExamples(4), null, new TrainingOptions { MaxSteps = 1 }));

        Assert.Contains("alpha 10", e.Message);
        Assert.Contains("alpha 5", e.Message);
    }

    [Fact]
    public void WrappingAnEmbeddingTwiceIsAnError()
    {
        using var model = TinyModels.Create();
        using var a = new NeftuneNoise(new NeftuneOptions { Alpha = 5 }, seed: 1);
        using var b = new NeftuneNoise(new NeftuneOptions { Alpha = 10 }, seed: 1);
        Neftune.Attach(model, "model.embed_tokens", a);

        var e = Assert.Throws<InvalidOperationException>(() => Neftune.Attach(model, "model.embed_tokens", b));

        Assert.Contains("alpha 5", e.Message);
        Assert.Contains("alpha 10", e.Message);
    }

    [Fact]
    public void DetachedNoiseCanBeReplacedAndTheTrainerThenAcceptsTheModel()
    {
        using var model = TinyModels.Create();
        using (Neftune.Attach(model, new NeftuneOptions { Alpha = 5 }, seed: 1)) Neftune.Detach(model);
        using (Neftune.Attach(model, new NeftuneOptions { Alpha = 10 }, seed: 1)) Neftune.Detach(model);

        using var trainer = new NeftuneTrainer(model, TinyModels.PatternExamples(4), null, new TrainingOptions { MaxSteps = 1, BatchSize = 4, NoiseOffTrainSampleSize = 0 });
        Assert.Equal(1, trainer.Train().Steps);
        Assert.Null(model.Model.EmbeddingTransform);
    }

    /// <summary>A noise kind of one's own: a constant step of the NEFTune scale along every coordinate.</summary>
    private sealed class ConstantNoise : INoise
    {
        public int Calls { get; private set; }
        public string Name => "constant";
        public Tensor Sample(Tensor embeddings, Tensor scale, Generator generator)
        {
            Calls++;
            return ones_like(embeddings, ScalarType.Float32) * scale;
        }
    }

    [Fact]
    public void AUserNoiseKindReplacesTheBuiltInDistribution()
    {
        using var model = TinyModels.Create();
        var kind = new ConstantNoise();
        var options = new NeftuneOptions { Alpha = 5, Kind = kind };
        using var noise = Neftune.Attach(model, options, seed: 1);
        model.train();
        using var _ = no_grad();

        using var noisy = model.forward(Ids);

        Neftune.Detach(model);
        using var embeds = model.Model.EmbeddingWeight.index_select(0, Ids.flatten()).view(1, 8, -1);
        double scale = 5 / Math.Sqrt(8.0 * embeds.shape[2]);                        // alpha / sqrt(L·d), L = 8 real tokens
        using var expected = model.ForwardEmbeddings(embeds + scale);
        Assert.Equal(1, kind.Calls);
        Assert.Contains("NEFTune noise (constant, alpha 5", noise.Description);
        Assert.True(noisy.allclose(expected, rtol: 1e-5, atol: 1e-6));
    }
}
