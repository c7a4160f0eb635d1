namespace Microsoft.ML.NEFTune.Data;

/// <summary>Settings of <see cref="BatchSampler"/>.</summary>
public sealed record BatchSamplerOptions
{
    /// <summary>Rows per batch. Default 4.</summary>
    public int BatchSize { get; init; } = 4;

    /// <summary>The seed of every shuffle. Default 42.</summary>
    public long Seed { get; init; } = 42;

    /// <summary>Shuffle each epoch (else rows in order). Default true.</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>Batch rows of similar length together, as Hugging Face's <c>group_by_length</c>. Default false.</summary>
    public bool GroupByLength { get; init; }

    /// <summary>
    /// Batches per mega-batch when grouping by length; null uses Hugging Face's rule
    /// min(rows / (4 · batch size), 50), at least 1.
    /// </summary>
    public int? MegaBatchMultiplier { get; init; }

    /// <summary>Leave out the last, incomplete batch of an epoch. Default false.</summary>
    public bool DropLast { get; init; }

    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate()
    {
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "The batch size must be at least 1.");
        if (MegaBatchMultiplier is < 1) throw new ArgumentOutOfRangeException(nameof(MegaBatchMultiplier), MegaBatchMultiplier, "The mega-batch multiplier must be at least 1.");
    }
}
