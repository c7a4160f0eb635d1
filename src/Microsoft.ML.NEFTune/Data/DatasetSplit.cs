namespace Microsoft.ML.NEFTune.Data;

/// <summary>A seeded train/validation split.</summary>
public static class DatasetSplit
{
    /// <summary>
    /// Splits <paramref name="items"/>: round(n · fraction) items (at least 1 when the fraction is positive, at most
    /// n − 1) chosen by a SplitMix64 shuffle of the indices go to validation; both parts keep the input order.
    /// </summary>
    /// <param name="items">What to split.</param>
    /// <param name="validationFraction">In [0, 1).</param>
    /// <param name="seed">The shuffle seed; the split is identical on every run and platform.</param>
    public static (IReadOnlyList<T> Train, IReadOnlyList<T> Validation) Split<T>(IReadOnlyList<T> items, double validationFraction, long seed)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (!(validationFraction >= 0 && validationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction, "The validation fraction must be in [0, 1).");
        int n = items.Count;
        int count = (int)Math.Round(n * validationFraction, MidpointRounding.AwayFromZero);
        if (validationFraction > 0) count = Math.Max(count, 1);
        count = Math.Min(count, Math.Max(n - 1, 0));

        var order = Enumerable.Range(0, n).ToArray();
        new SplitMix64(SplitMix64.Derive(seed, -1)).Shuffle(order);
        var validation = new bool[n];
        foreach (int i in order.Take(count)) validation[i] = true;
        var train = new List<T>(n - count);
        var held = new List<T>(count);
        for (int i = 0; i < n; i++) (validation[i] ? held : train).Add(items[i]);
        return (train, held);
    }
}
