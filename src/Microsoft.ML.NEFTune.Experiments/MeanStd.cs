using System.Globalization;

namespace Microsoft.ML.NEFTune.Experiments;

/// <summary>Mean and sample standard deviation (n − 1) of a set of values; the deviation is null for a single value.</summary>
public readonly record struct MeanStd(double Mean, double? Std, int Count)
{
    /// <summary>Summarises the finite values among <paramref name="values"/>; null when there is none.</summary>
    public static MeanStd? Of(IEnumerable<double?> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var finite = values.Where(v => v is double d && double.IsFinite(d)).Select(v => v!.Value).ToArray();
        if (finite.Length == 0) return null;
        double mean = finite.Average();
        double? std = finite.Length < 2 ? null : Math.Sqrt(finite.Sum(v => (v - mean) * (v - mean)) / (finite.Length - 1));
        return new MeanStd(mean, std, finite.Length);
    }

    /// <summary><c>mean ± std</c> (or the mean alone for one value) with <paramref name="format"/>.</summary>
    public string ToString(string format) =>
        Std is double s
            ? Mean.ToString(format, CultureInfo.InvariantCulture) + " ± " + s.ToString(format, CultureInfo.InvariantCulture)
            : Mean.ToString(format, CultureInfo.InvariantCulture);

    public override string ToString() => ToString("G4");
}
