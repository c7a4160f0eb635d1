namespace Microsoft.ML.NEFTune.Data;

/// <summary>A record <see cref="DatasetReader"/> left out, and why (for example an empty response).</summary>
/// <param name="RecordIndex">0-based record index.</param>
/// <param name="Line">1-based line where the record starts.</param>
/// <param name="Reason">Why the record is unusable.</param>
public sealed record SkippedRecord(int RecordIndex, int Line, string Reason);
