using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Microsoft.ML.NEFTune.Experiments;

/// <summary>One value of a metric at an optimizer step.</summary>
public readonly record struct MetricPoint(long Step, double Value);

/// <summary>
/// The loss curves of a run, read from its <c>metrics.jsonl</c>: training loss (with noise) from step lines,
/// validation loss and noise-off training loss from evaluation lines, and the final and best values.
/// </summary>
public sealed class MetricsHistory
{
    private MetricsHistory(string path, IReadOnlyList<MetricPoint> trainLoss, IReadOnlyList<MetricPoint> noiseOff, IReadOnlyList<MetricPoint> validation, long lastStep)
    {
        Path = path;
        TrainLoss = trainLoss;
        TrainLossNoiseOff = noiseOff;
        ValidationLoss = validation;
        LastStep = lastStep;
    }

    /// <summary>The file read.</summary>
    public string Path { get; }

    /// <summary><c>train_loss</c> per logged step (with noise).</summary>
    public IReadOnlyList<MetricPoint> TrainLoss { get; }

    /// <summary><c>train_loss_noise_off</c> per evaluation.</summary>
    public IReadOnlyList<MetricPoint> TrainLossNoiseOff { get; }

    /// <summary><c>val_loss</c> per evaluation.</summary>
    public IReadOnlyList<MetricPoint> ValidationLoss { get; }

    /// <summary>The highest step in the file (0 when it has no line).</summary>
    public long LastStep { get; }

    public double? FinalTrainLoss => TrainLoss.Count > 0 ? TrainLoss[^1].Value : null;
    public double? FinalTrainLossNoiseOff => TrainLossNoiseOff.Count > 0 ? TrainLossNoiseOff[^1].Value : null;
    public double? FinalValidationLoss => ValidationLoss.Count > 0 ? ValidationLoss[^1].Value : null;
    public double? BestValidationLoss => ValidationLoss.Count > 0 ? ValidationLoss.Min(p => p.Value) : null;

    /// <summary>The first step at which <see cref="BestValidationLoss"/> was reached.</summary>
    public long? BestStep => ValidationLoss.Count > 0 ? ValidationLoss.MinBy(p => p.Value).Step : null;

    /// <summary>True when the file holds at least one loss value.</summary>
    public bool HasLoss => TrainLoss.Count + TrainLossNoiseOff.Count + ValidationLoss.Count > 0;

    /// <summary>
    /// Reads a metrics file. An incomplete last line (a run killed while writing it) is ignored; any other line that
    /// is not a JSON object with a numeric <c>step</c> is an <see cref="InvalidDataException"/> naming the line.
    /// </summary>
    public static MetricsHistory Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var lines = File.ReadAllLines(path);
        int last = Array.FindLastIndex(lines, l => l.Trim().Length > 0);
        List<MetricPoint> train = new(), noiseOff = new(), validation = new();
        long lastStep = 0;
        for (int i = 0; i <= last; i++)
        {
            var text = lines[i].Trim();
            if (text.Length == 0) continue;
            JsonObject? line;
            try { line = JsonNode.Parse(text) as JsonObject; }
            catch (JsonException) when (i == last) { break; }
            catch (JsonException e) { throw new InvalidDataException($"{path} line {i + 1}: not valid JSON ({e.Message})", e); }
            if (line?["step"] is not JsonValue stepValue || !TryNumber(stepValue, out double stepNumber))
                throw new InvalidDataException($"{path} line {i + 1}: expected a JSON object with a numeric \"step\"");
            long step = (long)stepNumber;
            lastStep = Math.Max(lastStep, step);
            Add(line, "train_loss", step, train);
            Add(line, "train_loss_noise_off", step, noiseOff);
            Add(line, "val_loss", step, validation);
        }
        return new MetricsHistory(path, train, noiseOff, validation, lastStep);
    }

    private static void Add(JsonObject line, string key, long step, List<MetricPoint> series)
    {
        if (line[key] is JsonValue v && TryNumber(v, out double d) && double.IsFinite(d)) series.Add(new MetricPoint(step, d));
    }

    private static bool TryNumber(JsonValue value, out double number)
    {
        if (value.TryGetValue(out number)) return true;
        if (value.TryGetValue(out string? s) && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out number)) return true;
        number = 0;
        return false;
    }

    /// <summary>
    /// The mean curve of several runs: at each step present in every run, the mean of their values (e.g. one curve
    /// per noise alpha over seeds).
    /// </summary>
    public static IReadOnlyList<MetricPoint> MeanCurve(IReadOnlyList<IReadOnlyList<MetricPoint>> curves)
    {
        ArgumentNullException.ThrowIfNull(curves);
        if (curves.Count == 0) return Array.Empty<MetricPoint>();
        if (curves.Count == 1) return curves[0];
        var byStep = curves.Select(c => c.GroupBy(p => p.Step).ToDictionary(g => g.Key, g => g.Last().Value)).ToList();
        return byStep[0].Keys.Where(s => byStep.All(d => d.ContainsKey(s))).OrderBy(s => s)
            .Select(s => new MetricPoint(s, byStep.Average(d => d[s]))).ToList();
    }
}
