namespace Microsoft.ML.NEFTune.Data;

/// <summary>An example (or document) left out by <see cref="ExampleTokenizer"/>.</summary>
/// <param name="Index">0-based position in the input sequence.</param>
/// <param name="Reason">Why.</param>
/// <param name="Length">Its length in tokens before truncation (0 when it was not encoded).</param>
public sealed record DroppedExample(int Index, DropReason Reason, int Length);
