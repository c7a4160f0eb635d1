namespace Microsoft.ML.NEFTune.Data;

/// <summary>The usable records of a data file, and the ones left out.</summary>
public sealed class Dataset
{
    /// <summary>A dataset read from <paramref name="path"/>.</summary>
    public Dataset(string path, DataFormat format, int recordCount, IReadOnlyList<InstructionExample> examples,
        IReadOnlyList<PlainText> documents, IReadOnlyList<SkippedRecord> skipped)
    {
        Path = path ?? throw new ArgumentNullException(nameof(path));
        Format = format;
        RecordCount = recordCount;
        Examples = examples ?? throw new ArgumentNullException(nameof(examples));
        Documents = documents ?? throw new ArgumentNullException(nameof(documents));
        Skipped = skipped ?? throw new ArgumentNullException(nameof(skipped));
    }

    /// <summary>The file read.</summary>
    public string Path { get; }

    /// <summary>The record layout, given or detected.</summary>
    public DataFormat Format { get; }

    /// <summary>Records in the file, usable or not.</summary>
    public int RecordCount { get; }

    /// <summary>The instruction examples (empty for <see cref="DataFormat.Text"/>).</summary>
    public IReadOnlyList<InstructionExample> Examples { get; }

    /// <summary>The documents (only for <see cref="DataFormat.Text"/>).</summary>
    public IReadOnlyList<PlainText> Documents { get; }

    /// <summary>Records left out, with the reason.</summary>
    public IReadOnlyList<SkippedRecord> Skipped { get; }

    /// <summary>Examples or documents read.</summary>
    public int Count => Format == DataFormat.Text ? Documents.Count : Examples.Count;
}

/// <summary>A record <see cref="DatasetReader"/> left out, and why (for example an empty response).</summary>
/// <param name="RecordIndex">0-based record index.</param>
/// <param name="Line">1-based line where the record starts.</param>
/// <param name="Reason">Why the record is unusable.</param>
public sealed record SkippedRecord(int RecordIndex, int Line, string Reason);
