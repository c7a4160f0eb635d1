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

    /// <summary>K examples with the same number of labelled tokens (a 4-token response and EOS) and prompts of different lengths.</summary>
    private static IReadOnlyList<Microsoft.ML.NEFTune.Data.TokenizedExample> EqualLabelledExamples(int count)
    {
        var rng = new Random(11);
        return Enumerable.Range(0, count).Select(_ =>
        {
            var prompt = Enumerable.Range(0, 3 + rng.Next(6)).Select(_ => 3 + rng.Next(60)).ToArray();
            var response = Enumerable.Range(0, 4).Select(_ => 3 + rng.Next(60)).ToArray();
            var ids = new[] { 1 }.Concat(prompt).Concat(response).Append(2).ToArray();
            var labels = Enumerable.Repeat(-100, 1 + prompt.Length).Concat(response).Append(2).ToArray();
            return new Microsoft.ML.NEFTune.Data.TokenizedExample(ids, labels);
        }).ToList();
    }

    [Fact]
    public void BFloat16AccumulationOverKMicroBatchesIsTheFloat32SumOfTheirGradients()
    {
        // Every example has the same number of labelled tokens and K is a power of two, so in a step over all K the
        // bf16 backward of each micro-batch is its own single-example backward scaled by exactly 1/K. Summed in float32
        // the step's gradient is then their sum up to float32 rounding (~1e-7); summed in bf16 each addition rounds to
        // 8 significant bits (3.6e-3 measured with K = 8).
        const int K = 8;
        var data = EqualLabelledExamples(K);
        var accumulated = GradientsAfterOneStep(OneStep with { BatchSize = 1, GradientAccumulationSteps = K, BFloat16 = true }, data);
        var sum = new double[accumulated.Length];
        foreach (var example in data)
        {
            var single = GradientsAfterOneStep(OneStep with { BatchSize = 1, BFloat16 = true }, new[] { example });
            for (int i = 0; i < sum.Length; i++) sum[i] += single[i] / K;
        }
        double error = RelativeError(accumulated, sum);
        Assert.True(error < 1e-5, $"relative difference between the bf16 step over {K} micro-batches and the sum of their gradients {error:G3}");
    }
}
