namespace Microsoft.ML.NEFTune.Data;

/// <summary>One batch of a <see cref="BatchSampler"/>: where it is in the stream and which rows it holds.</summary>
/// <param name="State">The position of this batch.</param>
/// <param name="Indices">Indices of the rows (examples or packed rows) in the batch.</param>
/// <param name="Next">The position after this batch, to save for resuming.</param>
public sealed record SampledBatch(SamplerState State, int[] Indices, SamplerState Next);
