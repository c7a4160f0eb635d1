namespace Microsoft.ML.NEFTune.Data;

/// <summary>A position in the batch stream of a <see cref="BatchSampler"/>: the next batch to produce.</summary>
/// <param name="Epoch">0-based epoch.</param>
/// <param name="BatchIndex">0-based batch within the epoch.</param>
public readonly record struct SamplerState(int Epoch, int BatchIndex)
{
    /// <summary>The start of training.</summary>
    public static SamplerState Start => default;
}
