using Microsoft.ML.NEFTune.Modeling;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Tests.Scale;

/// <summary>The up-front memory estimate of full fine-tuning and the refusal it leads to.</summary>
public class TrainingMemoryTests
{
    private static LlamaConfig TinyLlama11B() => new()
    {
        VocabSize = 32000, HiddenSize = 2048, IntermediateSize = 5632, NumHiddenLayers = 22, NumAttentionHeads = 32, NumKeyValueHeads = 4,
        HeadDim = 64, MaxPositionEmbeddings = 2048, RmsNormEps = 1e-5, TieWordEmbeddings = false, BosTokenId = 1, EosTokenIds = new[] { 2 },
    };

    private const long TinyLlamaParameters = 1_100_048_384;

    [Fact]
    public void EstimateCountsWeightsGradientsAdamWAndActivations()
    {
        var m = TrainingMemory.ForFullFineTuning(TinyLlama11B(), TinyLlamaParameters, batchSize: 1, sequenceLength: 256, bfloat16: false, gradientCheckpointing: false);
        Assert.Equal(4 * TinyLlamaParameters, m.WeightBytes);
        Assert.Equal(4 * TinyLlamaParameters, m.GradientBytes);
        Assert.Equal(8 * TinyLlamaParameters, m.OptimizerBytes);
        Assert.Equal(0, m.BFloat16CopyBytes);
        long perTokenLayer = 12 * 2048 + 5 * 5632 + 2 * 32 * 256;
        Assert.Equal(256L * 4 * 22 * perTokenLayer, m.ActivationBytes);
        var checkpointed = TrainingMemory.ForFullFineTuning(TinyLlama11B(), TinyLlamaParameters, 1, 256, false, gradientCheckpointing: true);
        Assert.Equal(256L * 4 * (22 * 2048 + perTokenLayer), checkpointed.ActivationBytes);
        var bf16 = TrainingMemory.ForFullFineTuning(TinyLlama11B(), TinyLlamaParameters, 1, 256, bfloat16: true, false);
        Assert.Equal(4 * TinyLlamaParameters, bf16.BFloat16CopyBytes);
    }

    [Fact]
    public void RefusesWhenTheMachineCannotHoldItAndNamesTheNeed()
    {
        var m = TrainingMemory.ForFullFineTuning(TinyLlama11B(), TinyLlamaParameters, 8, 512, false, false);
        long resident = m.WeightBytes;
        var e = Assert.Throws<InsufficientMemoryException>(() => m.EnsureFits(availableBytes: 8_000_000_000, resident, TinyLlamaParameters));
        Assert.Contains("1.1B-parameter", e.Message);
        Assert.Contains("AdamW state 8.8", e.Message);
        Assert.Contains("--lora-rank", e.Message);
        m.EnsureFits(availableBytes: m.TotalBytes - resident, resident, TinyLlamaParameters);   // exactly enough: accepted
    }

    [Fact]
    public void ATrainerRefusesFullFineTuningBeforeAllocatingOptimizerState()
    {
        // A model whose estimate exceeds any machine's memory is refused by the constructor, before AdamW exists.
        using var model = TinyModels.Create();
        var options = new TrainingOptions { BatchSize = 1 << 20, MaxLength = 1 << 16, MaxSteps = 1 };
        var e = Assert.Throws<InsufficientMemoryException>(() => new NeftuneTrainer(model, TinyModels.PatternExamples(4), null, options));
        Assert.Contains("full fine-tuning", e.Message);
        using var trainer = new NeftuneTrainer(model, TinyModels.PatternExamples(4), null, options with { CheckMemory = false });
    }
}
