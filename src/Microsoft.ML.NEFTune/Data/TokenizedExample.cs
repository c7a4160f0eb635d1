namespace Microsoft.ML.NEFTune.Data;

/// <summary>Token ids of one example and its labels (−100 where no loss is taken).</summary>
public sealed record TokenizedExample(int[] InputIds, int[] Labels);
