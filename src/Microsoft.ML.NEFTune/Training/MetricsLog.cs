using System.Text.Json;
using System.Text.Json.Nodes;

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
        if (dir is not null) Directory.CreateDirectory(dir);
    }

    public void Write(TrainingProgress p)
    {
        var line = new JsonObject { ["step"] = p.Step, ["epoch"] = Math.Round(p.Epoch, 4) };
        if (p.TrainLoss is double loss) line["train_loss"] = loss;
        if (p.LearningRate is double lr) line["learning_rate"] = lr;
        if (p.GradNorm is double g) line["grad_norm"] = g;
        if (p.TokensPerSecond is double tps) line["tokens_per_second"] = Math.Round(tps, 1);
        if (p.ValidationLoss is double v) { line["val_loss"] = v; line["val_perplexity"] = Math.Exp(v); }
        if (p.TrainLossNoiseOff is double n) line["train_loss_noise_off"] = n;
        File.AppendAllText(path, line.ToJsonString() + "\n");
    }

    /// <summary>Drops lines past <paramref name="step"/> (after resuming from that step).</summary>
    public void TruncateAfter(long step)
    {
        if (!File.Exists(path)) return;
        var kept = File.ReadAllLines(path).Where(l => JsonNode.Parse(l)?["step"]?.GetValue<long>() is long s && s <= step);
        AtomicFile.WriteAllText(path, string.Concat(kept.Select(l => l + "\n")));
    }

    public static IReadOnlyList<JsonObject> Read(string path) =>
        File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => (JsonObject)JsonNode.Parse(l)!).ToList();
}
