using Microsoft.ML.NEFTune.Noise;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Tests.Training;

/// <summary>
/// bfloat16 compute over float32 master weights, judged by the gradients of one optimizer step (which the master keeps
/// after <see cref="NeftuneTrainer.Train"/>): against a float32 step on the same tokens within bfloat16 precision, and with
/// K micro-batches against one micro-batch holding the same K sequences.
/// </summary>
public class BFloat16Tests
{
    private static readonly TrainingOptions OneStep = new()
    {
        Noise = new NeftuneOptions { Alpha = 0 }, MaxSteps = 1, MaxGradNorm = 0, LearningRate = 1e-3, WarmupRatio = 0, GroupByLength = false,
        NoiseOffTrainSampleSize = 0, Seed = 4,
    };

    private static double[] GradientsAfterOneStep(TrainingOptions options, IReadOnlyList<Microsoft.ML.NEFTune.Data.TokenizedExample> data)
    {
        using var model = TinyModels.Create(seed: 3);
        using (var trainer = new NeftuneTrainer(model, data, null, options)) trainer.Train();
        return model.parameters().SelectMany(p => p.grad!.to_type(TorchSharp.torch.ScalarType.Float64).data<double>().ToArray()).ToArray();
    }

    private static double RelativeError(double[] x, double[] reference) =>
        Math.Sqrt(x.Zip(reference).Sum(p => (p.First - p.Second) * (p.First - p.Second)) / reference.Sum(r => r * r));

    [Fact]
    public void BFloat16StepGradientsMatchAFloat32StepWithinBFloat16Precision()
    {
        var data = TinyModels.PatternExamples(16, seed: 8);
        var fp32 = GradientsAfterOneStep(OneStep with { BatchSize = 16 }, data);
        var bf16 = GradientsAfterOneStep(OneStep with { BatchSize = 16, BFloat16 = true }, data);
        double error = RelativeError(bf16, fp32);
        // bfloat16 keeps 8 significant bits (relative rounding 2^-9 ≈ 0.2 %); through two layers forward and back the
        // gradient's relative error stays at a few times that. Stale weights or a lost gradient give errors of order 1.
        Assert.True(error < 0.03, $"relative gradient error of the bf16 step {error:G3}");
        Assert.True(error > 0, "the bf16 step gave float32's gradients exactly: it did not run in bf16");
    }

    [Fact]
    public void BFloat16AccumulationOverKMicroBatchesMatchesOneMicroBatchOfTheSameTokens()
    {
        const int K = 16;
        var data = TinyModels.PatternExamples(K, seed: 8);
        var fp32 = GradientsAfterOneStep(OneStep with { BatchSize = K }, data);
        var one = GradientsAfterOneStep(OneStep with { BatchSize = K, BFloat16 = true }, data);
        var accumulated = GradientsAfterOneStep(OneStep with { BatchSize = 1, GradientAccumulationSteps = K, BFloat16 = true }, data);
        double errorOne = RelativeError(one, fp32), errorAccumulated = RelativeError(accumulated, fp32), between = RelativeError(accumulated, one);
        // Summed in float32, K bf16 micro-batch gradients are as close to the float32 gradient as one bf16 batch is;
        // summed in bf16, every addition rounds again to 8 bits and the error grows with K.
        Assert.True(errorAccumulated < 1.5 * errorOne, $"bf16 error with {K} micro-batches {errorAccumulated:G3}, with one batch {errorOne:G3}");
        Assert.True(between < 0.03, $"relative difference between {K} micro-batches and one batch {between:G3}");
    }
}
