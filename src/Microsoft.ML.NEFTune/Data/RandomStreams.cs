namespace Microsoft.ML.NEFTune.Data;

/// <summary>
/// The independent random streams of a run, each derived from the run's seed with SplitMix64 under its own stream number,
/// so that drawing more or fewer numbers from one (adding LoRA, changing dropout, packing) never shifts another:
/// <list type="table">
/// <item><term>data order</term><description>epoch <c>e</c>: stream <c>e</c> (0, 1, 2, …), see <see cref="BatchSampler"/>.</description></item>
/// <item><term>validation split</term><description>stream −1, see <see cref="DatasetSplit"/>.</description></item>
/// <item><term>NEFTune noise</term><description>stream −2 (<see cref="NoiseSeed"/>).</description></item>
/// <item><term>LoRA initialisation</term><description>stream −3 (<see cref="LoraInitSeed"/>), drawn on the CPU.</description></item>
/// <item><term>LoRA dropout</term><description>stream −4 (<see cref="LoraDropoutSeed"/>).</description></item>
/// <item><term>noise-off training sample</term><description>stream −5 (<see cref="TrainSampleSeed"/>).</description></item>
/// </list>
/// The noise and dropout generators' states are saved in checkpoints (<c>rng_state.safetensors</c>); the other streams are
/// pure functions of the seed (and epoch), so a resumed run draws exactly what an uninterrupted one would.
/// </summary>
public static class RandomStreams
{
    public const long Split = -1, Noise = -2, LoraInit = -3, LoraDropout = -4, TrainSample = -5;

    /// <summary>Seed of the generator NEFTune noise is drawn from.</summary>
    public static long NoiseSeed(long seed) => Derive(seed, Noise);

    /// <summary>Seed of the generator LoRA's A matrices are initialised from.</summary>
    public static long LoraInitSeed(long seed) => Derive(seed, LoraInit);

    /// <summary>Seed of the generator LoRA's dropout masks are drawn from.</summary>
    public static long LoraDropoutSeed(long seed) => Derive(seed, LoraDropout);

    /// <summary>Seed of the fixed sample on which the noise-off training loss is measured.</summary>
    public static long TrainSampleSeed(long seed) => Derive(seed, TrainSample);

    private static long Derive(long seed, long stream) => unchecked((long)SplitMix64.Derive(seed, stream));
}
