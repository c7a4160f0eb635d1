using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Tests.Reliability;

/// <summary>
/// A short <c>neftune train</c> run on a tiny model (6 steps, a checkpoint every 2), run in-process (with a planned
/// <see cref="FaultInjection"/> crash) or as a <see cref="ChildRun"/>, and the checks made on what it leaves on disk.
/// </summary>
internal sealed class TrainingRun : IDisposable
{
    private readonly TinyLlamaDirectory dir = new(records: 4);

    public TrainingRun()
    {
        var records = Enumerable.Range(0, 12).Select(i => (JsonNode)new JsonObject
        {
            ["instruction"] = $"Add {i} and {i + 1}.", ["input"] = "", ["output"] = $"The sum of {i} and {i + 1} is {2 * i + 1}.",
        });
        File.WriteAllText(DataPath, new JsonArray(records.ToArray()).ToJsonString());
    }

    public const int Steps = 6;
    public string DataPath => dir["short.json"];
    public string ModelPath => dir.ModelPath;
    public string this[string name] => dir[name];

    public string[] Args(string output, params string[] extra) => new[]
    {
        "train", "--model", dir.ModelPath, "--data", DataPath, "--noise-alpha", "5", "--max-steps", Steps.ToString(), "--batch-size", "2",
        "--lr", "1e-3", "--max-length", "64", "--save-steps", "2", "--save-total-limit", "0", "--seed", "3", "--out", output,
    }.Concat(extra).ToArray();

    /// <summary><paramref name="args"/> with the value of <paramref name="option"/> replaced, or the option added.</summary>
    public static string[] Set(string[] args, string option, string value)
    {
        int at = Array.IndexOf(args, option);
        return at < 0 ? args.Append(option).Append(value).ToArray() : args.Select((a, i) => i == at + 1 ? value : a).ToArray();
    }

    /// <summary>All weights of a model folder's <c>model.safetensors</c>, in name order.</summary>
    public static float[] Weights(string modelDir)
    {
        var file = SafetensorsFile.Open(Path.Combine(modelDir, "model.safetensors"));
        return file.Entries.Keys.OrderBy(k => k, StringComparer.Ordinal).SelectMany(k => { using var t = file.Read(k); return t.data<float>().ToArray(); }).ToArray();
    }

    /// <summary>Files and folders named <c>*.tmp</c> anywhere under <paramref name="output"/>.</summary>
    public static string[] Temporaries(string output) =>
        Directory.Exists(output) ? Directory.GetFileSystemEntries(output, "*.tmp", SearchOption.AllDirectories) : Array.Empty<string>();

    /// <summary>
    /// What a crash may leave: every complete checkpoint loads (model, optimizer, trainer state), a final model present is
    /// whole, and every metrics line parses. Returns the newest checkpoint's step, or 0 when there is none.
    /// </summary>
    public static long CheckConsistent(string output)
    {
        var checkpoints = CheckpointStore.List(output);
        foreach (var (step, path) in checkpoints)
        {
            using (var model = HuggingFaceCheckpoint.Load(path)) { }
            var optimizer = SafetensorsFile.Open(Path.Combine(path, CheckpointStore.OptimizerFile));
            foreach (var name in optimizer.Entries.Keys) optimizer.Read(name).Dispose();
            Assert.Equal(step, TrainerState.Load(Path.Combine(path, CheckpointStore.TrainerStateFile)).GlobalStep);
        }
        if (File.Exists(Path.Combine(output, "model.safetensors"))) Assert.NotEmpty(Weights(output));
        var metrics = Path.Combine(output, "metrics.jsonl");
        if (File.Exists(metrics)) MetricsLog.Read(metrics);
        return checkpoints.Count == 0 ? 0 : checkpoints[^1].Step;
    }

    public void Dispose() => dir.Dispose();
}
