using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Tests.Reliability;

/// <summary>
/// A short <c>neftune train</c> run on a tiny model (6 steps, a checkpoint every 2), run in-process or as a child
/// process that can be killed or interrupted, and the checks made on what it leaves on disk.
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

    /// <summary>Starts <c>dotnet neftune.dll</c> with <paramref name="args"/>, standard output redirected and read by the caller.</summary>
    public static Process Start(IEnumerable<string> args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "neftune.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        var process = Process.Start(start)!;
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Reads standard output until a line containing <paramref name="marker"/>; returns it, or null when the process ended first.</summary>
    public static string? WaitForLine(Process process, string marker)
    {
        string? line;
        while ((line = process.StandardOutput.ReadLine()) is not null && !line.Contains(marker)) { }
        return line;
    }

    public static void Kill(Process process)
    {
        try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
    }

    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int SendSignal(int pid, int signal);

    /// <summary>Sends SIGINT, as Ctrl+C in a terminal does.</summary>
    public static void Interrupt(Process process) => Assert.Equal(0, SendSignal(process.Id, 2));

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
