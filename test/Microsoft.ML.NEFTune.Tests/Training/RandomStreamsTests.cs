using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Lora;
using Microsoft.ML.NEFTune.Noise;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Tests.Training;

public class RandomStreamsTests
{
    /// <summary>The noise generator's state in the checkpoint written after two steps.</summary>
    private static byte[] NoiseStateAfterTwoSteps(LoraOptions? lora)
    {
        using var dir = new TempDirectory();
        using var model = TinyModels.Create(seed: 5);
        var options = new TrainingOptions
        {
            Noise = new NeftuneOptions { Alpha = 5 }, MaxSteps = 2, BatchSize = 2, SaveSteps = 2, NoiseOffTrainSampleSize = 0, Seed = 7,
            OutputDirectory = dir.Path, Lora = lora,
        };
        using (var trainer = new NeftuneTrainer(model, TinyModels.PatternExamples(8, seed: 1), null, options)) trainer.Train();
        var rng = SafetensorsFile.Open(Path.Combine(dir.Path, "checkpoint-2", CheckpointStore.RngFile));
        using var state = rng.Read("noise");
        return state.data<byte>().ToArray();
    }

    [Fact]
    public void AddingLoraWithDropoutLeavesTheNoiseSequenceUnchanged()
    {
        var full = NoiseStateAfterTwoSteps(null);
        var lora = NoiseStateAfterTwoSteps(new LoraOptions { Rank = 4, Dropout = 0.1 });
        using var fresh = new TorchSharp.torch.Generator(unchecked((ulong)RandomStreams.NoiseSeed(7)));
        using var initial = fresh.get_state();
        Assert.NotEqual(initial.data<byte>().ToArray(), full);   // the noise was drawn
        Assert.Equal(full, lora);                                // from the same stream, and nothing else drew from it
    }

    [Fact]
    public void EachStreamHasItsOwnSeed()
    {
        var seeds = new[] { RandomStreams.NoiseSeed(42), RandomStreams.LoraInitSeed(42), RandomStreams.LoraDropoutSeed(42), RandomStreams.TrainSampleSeed(42), 42L };
        Assert.Equal(seeds.Length, seeds.Distinct().Count());
        Assert.NotEqual(RandomStreams.NoiseSeed(42), RandomStreams.NoiseSeed(43));
    }
}
