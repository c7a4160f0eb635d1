using System.Text.RegularExpressions;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Lora;
using Microsoft.ML.NEFTune.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Training;

/// <summary>
/// <c>OUT/checkpoint-STEP/</c> folders (the Hugging Face convention): the model in HF layout plus
/// <c>optimizer.safetensors</c>, <c>rng_state.safetensors</c> and <c>trainer_state.json</c>; for a model with LoRA
/// adapters, the adapter in the PEFT layout instead of the model (the frozen base is not repeated). A checkpoint is written
/// into a temporary folder and renamed into place, so a crash leaves either no checkpoint or a complete one.
/// </summary>
public static partial class CheckpointStore
{
    public const string TrainerStateFile = "trainer_state.json";
    public const string OptimizerFile = "optimizer.safetensors";
    public const string RngFile = "rng_state.safetensors";

    [GeneratedRegex(@"^checkpoint-(\d+)$")]
    private static partial Regex CheckpointName();

    public static string Save(string outputDirectory, LlamaForCausalLM model, AdamW optimizer, TrainerState state, Generator? noiseGenerator, string? tokenizerDirectory)
    {
        var final = Path.Combine(outputDirectory, $"checkpoint-{state.GlobalStep}");
        var temp = Path.Combine(outputDirectory, $".checkpoint-{state.GlobalStep}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(temp);
        FaultInjection.TemporaryCreated(temp);
        try
        {
            if (Lora.LoraAdapters.HasAdapters(model)) Lora.LoraAdapters.SaveAdapter(model, temp);
            else HuggingFaceCheckpoint.Save(model, temp, tokenizerDirectory);
            SafetensorsFile.Save(Path.Combine(temp, OptimizerFile), optimizer.StateDict());
            var rng = new Dictionary<string, Tensor>();
            if (noiseGenerator is not null) rng["noise"] = noiseGenerator.get_state();
            if (Lora.LoraAdapters.DropoutGenerator(model) is { } dropout) rng["lora_dropout"] = dropout.get_state();
            if (rng.Count > 0) SafetensorsFile.Save(Path.Combine(temp, RngFile), rng);
            AtomicFile.WriteAllText(Path.Combine(temp, TrainerStateFile), state.ToJson());
            if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
            Directory.Move(temp, final);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new IOException($"Could not write checkpoint {final}: {e.Message}", e);
        }
        return final;
    }

    /// <summary>
    /// Deletes what a killed run left half-written in <paramref name="outputDirectory"/>: <c>.checkpoint-STEP.*.tmp</c> folders and
    /// <c>.NAME.*.tmp</c> files of atomic writes, there and in its checkpoint folders. Complete files are never touched.
    /// </summary>
    public static void RemoveStaleTemporaries(string outputDirectory)
    {
        if (!Directory.Exists(outputDirectory)) return;
        foreach (var dir in Directory.GetDirectories(outputDirectory, ".checkpoint-*.tmp")) TryDelete(dir);
        foreach (var dir in new[] { outputDirectory, OutputLayout.BestModelDirectory(outputDirectory) }.Concat(List(outputDirectory).Select(c => c.Path)))
        {
            if (!Directory.Exists(dir)) continue;
            foreach (var file in Directory.GetFiles(dir, ".*.tmp"))
                try { File.Delete(file); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>Checkpoint folders in <paramref name="outputDirectory"/>, oldest first.</summary>
    public static IReadOnlyList<(long Step, string Path)> List(string outputDirectory) =>
        !Directory.Exists(outputDirectory) ? Array.Empty<(long, string)>() :
        Directory.GetDirectories(outputDirectory)
            .Select(d => (Match: CheckpointName().Match(Path.GetFileName(d)), Path: d))
            .Where(x => x.Match.Success && File.Exists(Path.Combine(x.Path, TrainerStateFile)))
            .Select(x => (long.Parse(x.Match.Groups[1].Value), x.Path))
            .OrderBy(x => x.Item1).ToList();

    /// <summary>A checkpoint folder itself, or the newest checkpoint inside an output folder.</summary>
    public static string Resolve(string path)
    {
        if (File.Exists(Path.Combine(path, TrainerStateFile))) return path;
        var all = List(path);
        if (all.Count == 0) throw new DirectoryNotFoundException($"No checkpoint to resume from in {path} (expected a checkpoint-STEP folder or an output folder containing one).");
        return all[^1].Path;
    }

    /// <summary>Deletes the oldest checkpoints beyond <paramref name="keep"/>, never <paramref name="protect"/>.</summary>
    public static void Prune(string outputDirectory, int keep, string? protect)
    {
        if (keep <= 0) return;
        var all = List(outputDirectory);
        foreach (var (_, path) in all.Take(Math.Max(0, all.Count - keep)))
            if (protect is null || Path.GetFullPath(path) != Path.GetFullPath(protect)) TryDelete(path);
    }

    public static void LoadInto(string checkpoint, LlamaForCausalLM model, AdamW optimizer, Generator? noiseGenerator, out TrainerState state)
    {
        state = TrainerState.Load(Path.Combine(checkpoint, TrainerStateFile));
        if (Lora.LoraAdapters.HasAdapters(model)) Lora.LoraAdapters.LoadAdapterWeights(model, checkpoint);
        else
        {
            var weights = SafetensorsFile.Open(Path.Combine(checkpoint, "model.safetensors"));
            StateDictLoader.Load(model, model.Config, checkpoint, weights.Entries.Keys.ToList(), weights.Read);
        }
        var opt = SafetensorsFile.Open(Path.Combine(checkpoint, OptimizerFile));
        var tensors = opt.Entries.Keys.ToDictionary(k => k, opt.Read);
        optimizer.LoadStateDict(tensors);
        foreach (var t in tensors.Values) t.Dispose();
        var rngPath = Path.Combine(checkpoint, RngFile);
        if (File.Exists(rngPath))
        {
            var rngFile = SafetensorsFile.Open(rngPath);
            if (noiseGenerator is not null && rngFile.Entries.ContainsKey("noise"))
            {
                using var rng = rngFile.Read("noise");
                noiseGenerator.set_state(rng);
            }
            if (Lora.LoraAdapters.DropoutGenerator(model) is { } dropout && rngFile.Entries.ContainsKey("lora_dropout"))
            {
                using var rng = rngFile.Read("lora_dropout");
                dropout.set_state(rng);
            }
        }
    }

    private static void TryDelete(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
