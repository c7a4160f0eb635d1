using System.Diagnostics;
using Microsoft.ML.NEFTune.Noise;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Benchmarks;

/// <summary>
/// The cost of NEFTune itself, timed apart from the training step: drawing the uniform noise for a (B, T, d) batch of
/// embeddings, scaling it by alpha/√(L·d) per sequence and adding it, as the trainer does each step. The backward of
/// that addition passes the gradient through unchanged and is not timed. A step-time ratio (noise on ÷ off) carries the
/// run-to-run spread of two whole steps; this figure isolates what the noise adds.
/// </summary>
public static class NoiseCostBenchmark
{
    /// <summary>Median seconds of one noise application over <paramref name="repetitions"/> timed calls.</summary>
    public static double Measure(BenchmarkShape shape, int repetitions, long seed)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentOutOfRangeException.ThrowIfLessThan(repetitions, 1);
        long B = shape.Batch, T = shape.Sequence, d = shape.Config.HiddenSize;
        using var noise = new NeftuneNoise(new NeftuneOptions { Alpha = 5 }, seed);
        using var embeds = randn(B, T, d).requires_grad_(true);                 // (B, T, d)
        using var sequenceIds = ones(B, T, ScalarType.Int64);                    // one sequence per row
        var seconds = new List<double>(repetitions);
        for (int i = 0; i < repetitions + 2; i++)                               // two untimed warm-up calls
        {
            using var scope = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            _ = noise.Apply(embeds, sequenceIds);
            if (i >= 2) seconds.Add(clock.Elapsed.TotalSeconds);
        }
        return Statistics.Median(seconds);
    }
}
