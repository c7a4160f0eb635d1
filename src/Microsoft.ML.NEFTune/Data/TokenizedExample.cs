namespace Microsoft.ML.NEFTune.Data;

/// <summary>
/// Token ids and their labels: the label of a position is its id when the model is trained to produce it, else
/// <see cref="ExampleTokenizer.LabelIgnoreIndex"/>. The model shifts internally (position t predicts labels[t+1]),
/// so labels[0] never counts.
/// </summary>
public sealed record TokenizedExample
{
    /// <summary>An example from ids and labels of equal length.</summary>
    public TokenizedExample(int[] InputIds, int[] Labels)
    {
        ArgumentNullException.ThrowIfNull(InputIds);
        ArgumentNullException.ThrowIfNull(Labels);
        if (InputIds.Length != Labels.Length)
            throw new ArgumentException($"There are {InputIds.Length} ids but {Labels.Length} labels.", nameof(Labels));
        this.InputIds = InputIds;
        this.Labels = Labels;
    }

    /// <summary>The token ids.</summary>
    public int[] InputIds { get; }

    /// <summary>The labels, one per id.</summary>
    public int[] Labels { get; }

    /// <summary>Number of tokens.</summary>
    public int Length => InputIds.Length;

    /// <summary>Positions the loss counts: labels[t] that are not ignored, for t ≥ 1.</summary>
    public int TokenCount
    {
        get
        {
            int count = 0;
            for (int t = 1; t < Labels.Length; t++) if (Labels[t] != ExampleTokenizer.LabelIgnoreIndex) count++;
            return count;
        }
    }

    /// <summary>Splits into ids and labels.</summary>
    public void Deconstruct(out int[] InputIds, out int[] Labels)
    {
        InputIds = this.InputIds;
        Labels = this.Labels;
    }
}
