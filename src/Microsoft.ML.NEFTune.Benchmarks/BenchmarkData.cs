using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Benchmarks;

/// <summary>
/// Synthetic training data of one shape: full-length sequences of seeded random token ids (BOS first), labelled
/// everywhere, so every step runs exactly <see cref="BenchmarkShape.TokensPerStep"/> tokens without padding.
/// </summary>
public sealed class BenchmarkData
{
    public BenchmarkData(BenchmarkShape shape, int distinctBatches, long seed)
    {
        Shape = shape;
        Seed = seed;
        var random = new Random(unchecked((int)seed));
        Examples = Enumerable.Range(0, shape.Batch * distinctBatches).Select(_ =>
        {
            var ids = new int[shape.Sequence];
            ids[0] = shape.Config.BosTokenId ?? 1;
            for (int t = 1; t < ids.Length; t++) ids[t] = 3 + random.Next(shape.Config.VocabSize - 3);
            return new TokenizedExample(ids, (int[])ids.Clone());
        }).ToList();
    }

    public BenchmarkShape Shape { get; }
    public long Seed { get; }
    public IReadOnlyList<TokenizedExample> Examples { get; }

    /// <summary>Trainer settings that see this data as the benchmark's steps: one micro-batch per step, constant learning rate.</summary>
    public TrainingOptions TrainingOptions(double noiseAlpha, bool bfloat16) => new()
    {
        Noise = new Noise.NeftuneOptions { Alpha = noiseAlpha },
        LearningRate = 1e-4, WarmupRatio = 0, Scheduler = LearningRateSchedule.Constant, MaxSteps = 1_000_000, BatchSize = Shape.Batch,
        GradientAccumulationSteps = 1, MaxGradNorm = 1.0, BFloat16 = bfloat16, NoiseOffTrainSampleSize = 0, LoggingSteps = 1, Seed = Seed,
    };

    /// <summary>
    /// The input ids of the first <paramref name="steps"/> micro-batches exactly as the trainer draws them
    /// (steps × batch × sequence, row-major), for a peer that must train on the same batches.
    /// </summary>
    public long[] StepTokens(int steps)
    {
        var options = TrainingOptions(0, false);
        var batches = new TrainingBatches(Examples, options.BatchSize, options.Seed, options.GroupByLength, padId: 0, shuffle: true);
        var tokens = new long[(long)steps * Shape.TokensPerStep];
        for (int s = 0; s < steps; s++)
        {
            var batch = batches.Batch(s / batches.BatchCount, s % batches.BatchCount);
            Array.Copy(batch.InputIds, 0, tokens, s * Shape.TokensPerStep, Shape.TokensPerStep);
        }
        return tokens;
    }
}
