using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.IO;

namespace Microsoft.ML.NEFTune.Training;

/// <summary>
/// Metrics as JSON lines, one per logged step or evaluation, flushed as written: <c>step</c>, <c>epoch</c>,
/// <c>train_loss</c>, <c>learning_rate</c>, <c>grad_norm</c>, <c>tokens_per_second</c>; evaluation lines carry
/// <c>val_loss</c>, <c>val_perplexity</c> and <c>train_loss_noise_off</c>.
/// </summary>
public sealed class MetricsLog
{
    private readonly string path;

    public MetricsLog(string path)
    {
        this.path = path;
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        try
        {
            if (dir is not null) Directory.CreateDirectory(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"Could not create the folder {dir} for the metrics file {Path.GetFullPath(path)}: {e.Message}", e);
        }
    }

    public void Write(TrainingProgress p)
    {
        var line = new JsonObject { ["step"] = p.Step, ["epoch"] = Number(Math.Round(p.Epoch, 4)) };
        if (p.TrainLoss is double loss) line["train_loss"] = Number(loss);
        if (p.LearningRate is double lr) line["learning_rate"] = Number(lr);
        if (p.GradNorm is double g) line["grad_norm"] = Number(g);
        if (p.TokensPerSecond is double tps) line["tokens_per_second"] = Number(Math.Round(tps, 1));
        if (p.ValidationLoss is double v) { line["val_loss"] = Number(v); line["val_perplexity"] = Number(Math.Exp(v)); }
        if (p.TrainLossNoiseOff is double n) line["train_loss_noise_off"] = Number(n);
        try
        {
            File.AppendAllText(path, line.ToJsonString() + "\n");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"Could not write {Path.GetFullPath(path)}: {e.Message}", e);
        }
    }

    /// <summary>A JSON number, or the strings <c>"NaN"</c>, <c>"Infinity"</c>, <c>"-Infinity"</c>, which JSON numbers cannot hold.</summary>
    private static JsonNode Number(double value) =>
        double.IsFinite(value) ? JsonValue.Create(value) : JsonValue.Create(value.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Drops lines past <paramref name="step"/> (after resuming from that step).</summary>
    public void TruncateAfter(long step)
    {
        if (!File.Exists(path)) return;
        var kept = File.ReadAllLines(path).Where(l => Step(l) is long s && s <= step);
        AtomicFile.WriteAllText(path, string.Concat(kept.Select(l => l + "\n")));
    }

    /// <summary>The step of a metrics line, or null for a line that is not one (such as a line cut short by a crash).</summary>
    private static long? Step(string line)
    {
        try { return JsonNode.Parse(line) is JsonObject o && o["step"] is JsonValue v && v.TryGetValue<long>(out var s) ? s : null; }
        catch (JsonException) { return null; }
    }

    public static IReadOnlyList<JsonObject> Read(string path) =>
        File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => (JsonObject)JsonNode.Parse(l)!).ToList();
}
