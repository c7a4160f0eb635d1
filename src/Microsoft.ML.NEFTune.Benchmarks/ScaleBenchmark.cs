using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Lora;
using Microsoft.ML.NEFTune.Modeling;
using Microsoft.ML.NEFTune.Quantization;
using Microsoft.ML.NEFTune.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Benchmarks;

/// <summary>Figures of <c>neftune bench --scale 1b</c> (the JSON object <c>scale_1b</c>).</summary>
public sealed record ScaleBenchmarkResult
{
    public string Shape { get; init; } = "";
    public string Directory { get; init; } = "";
    public long Parameters { get; init; }
    public long FileBytes { get; init; }
    public bool Generated { get; init; }
    public string LoadDType { get; init; } = "";
    public double LoadSeconds { get; init; }
    public double LoadPeakRssMb { get; init; }
    public double LoadModelMb { get; init; }
    public double Fp32Gflops { get; init; }
    public double CopyGbps { get; init; }
    public double DecodeTokensPerSecond { get; init; }
    public long DecodeBytesPerToken { get; init; }
    public double DecodeBandwidthFraction => DecodeBytesPerToken * DecodeTokensPerSecond / (CopyGbps * 1e9);
    public int QloraTokensPerStep { get; init; }
    public double QloraStepSeconds { get; init; }
    public double QloraCheckpointedStepSeconds { get; init; }
    /// <summary>The plain QLoRA step with <see cref="TrainingOptions.BFloat16"/> (bfloat16 products over the NF4 base); 0 where the CPU has no fast bfloat16.</summary>
    public double QloraBf16StepSeconds { get; init; }
    public double QloraTokensPerSecond => QloraTokensPerStep / QloraStepSeconds;
    /// <summary>4 · parameters · tokens/s (forward plus the input-gradient half of backward through the frozen base) ÷ the fp32 ceiling.</summary>
    public double QloraMfu => 4.0 * Parameters * QloraTokensPerSecond / (Fp32Gflops * 1e9);
    public double QloraPeakRssMb { get; init; }
    public double QloraStoredMb { get; init; }
    public double CheckpointingStepRatio => QloraCheckpointedStepSeconds / QloraStepSeconds;
    public double ElapsedSeconds { get; init; }

    public JsonObject ToJson() => new()
    {
        ["shape"] = Shape,
        ["directory"] = Directory,
        ["params"] = Parameters,
        ["file_bytes"] = FileBytes,
        ["generated_now"] = Generated,
        ["load_dtype"] = LoadDType,
        ["load_seconds"] = R(LoadSeconds, 2),
        ["load_peak_rss_mb"] = R(LoadPeakRssMb, 1),
        ["load_model_mb"] = R(LoadModelMb, 1),
        ["load_peak_over_model"] = R(LoadPeakRssMb / LoadModelMb, 3),
        ["matmul_fp32_gflops"] = R(Fp32Gflops, 1),
        ["copy_gbps"] = R(CopyGbps, 2),
        ["decode_tokens_per_s"] = R(DecodeTokensPerSecond, 2),
        ["decode_weight_bytes_per_token"] = DecodeBytesPerToken,
        ["decode_bandwidth_fraction"] = R(DecodeBandwidthFraction, 4),
        ["qlora_tokens_per_step"] = QloraTokensPerStep,
        ["qlora_step_s"] = R(QloraStepSeconds, 3),
        ["qlora_checkpointed_step_s"] = R(QloraCheckpointedStepSeconds, 3),
        ["qlora_tokens_per_s"] = R(QloraTokensPerSecond, 2),
        ["qlora_mfu"] = R(QloraMfu, 4),
        ["qlora_peak_rss_mb"] = R(QloraPeakRssMb, 1),
        ["qlora_stored_mb"] = R(QloraStoredMb, 1),
        ["checkpointing_step_ratio"] = R(CheckpointingStepRatio, 3),
        ["qlora_bf16_step_s"] = QloraBf16StepSeconds > 0 ? R(QloraBf16StepSeconds, 3) : null,
        ["qlora_bf16_tokens_per_s"] = QloraBf16StepSeconds > 0 ? R(QloraTokensPerStep / QloraBf16StepSeconds, 2) : null,
        ["qlora_bf16_speedup"] = QloraBf16StepSeconds > 0 ? R(QloraStepSeconds / QloraBf16StepSeconds, 3) : null,
        ["elapsed_s"] = R(ElapsedSeconds, 1),
    };

    private static double R(double value, int digits) => double.IsFinite(value) ? Math.Round(value, digits) : 0;

    /// <summary>The figures from <see cref="ToJson"/> (a <c>scale_1b</c> object written by another process).</summary>
    public static ScaleBenchmarkResult FromJson(JsonObject json)
    {
        double D(string key) => json[key]?.GetValue<double>() ?? 0;
        return new ScaleBenchmarkResult
        {
            Shape = (string?)json["shape"] ?? "", Directory = (string?)json["directory"] ?? "", Parameters = (long)D("params"),
            FileBytes = (long)D("file_bytes"), Generated = (bool?)json["generated_now"] ?? false, LoadDType = (string?)json["load_dtype"] ?? "",
            LoadSeconds = D("load_seconds"), LoadPeakRssMb = D("load_peak_rss_mb"), LoadModelMb = D("load_model_mb"),
            Fp32Gflops = D("matmul_fp32_gflops"), CopyGbps = D("copy_gbps"), DecodeTokensPerSecond = D("decode_tokens_per_s"),
            DecodeBytesPerToken = (long)D("decode_weight_bytes_per_token"), QloraTokensPerStep = (int)D("qlora_tokens_per_step"),
            QloraStepSeconds = D("qlora_step_s"), QloraCheckpointedStepSeconds = D("qlora_checkpointed_step_s"),
            QloraBf16StepSeconds = D("qlora_bf16_step_s"), QloraPeakRssMb = D("qlora_peak_rss_mb"), QloraStoredMb = D("qlora_stored_mb"),
            ElapsedSeconds = D("elapsed_s"),
        };
    }
}

/// <summary>
/// The 1B-class section of the bench on a random-weight checkpoint of TinyLlama-1.1B's exact shape (bfloat16, three
/// shards; made by <c>eng/scale/make_checkpoint.py</c> when missing): load time and peak resident memory, KV-cache
/// decoding against the weight-streaming bound, and QLoRA (NF4 base, rank-8 adapters on the attention projections,
/// batch 1 × 256 tokens) step time, MFU and peak memory with and without gradient checkpointing.
/// </summary>
public static class ScaleBenchmark
{
    /// <summary>
    /// Runs the section in a child process (<c>neftune bench --scale 1b --scale-only --json</c>, the same executable), so
    /// that its load and QLoRA peaks start from a fresh process as a user's <c>generate</c> or <c>train</c> does, and the
    /// heap the other sections kept (freed native memory stays in the heap once training has run) is not counted.
    /// </summary>
    /// <param name="arguments">Further arguments for the child (threads, Python, checkpoint directory).</param>
    /// <param name="log">Receives the child's progress lines; null discards them.</param>
    public static ScaleBenchmarkResult RunInChildProcess(IEnumerable<string> arguments, Action<string>? log)
    {
        var host = Environment.ProcessPath ?? throw new InvalidOperationException("the path of this process is unknown");
        var info = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
            info.ArgumentList.Add(System.Reflection.Assembly.GetEntryAssembly()?.Location ?? throw new InvalidOperationException("the entry assembly is unknown"));
        foreach (var a in new[] { "bench", "--scale", "1b", "--scale-only", "--json" }.Concat(arguments)) info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {host}");
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) log?.Invoke(e.Data); };
        process.BeginErrorReadLine();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"the 1B section failed in its process (exit {process.ExitCode})");
        var json = System.Text.Json.Nodes.JsonNode.Parse(output.Trim().Split('\n').Last())?["scale_1b"] as JsonObject
            ?? throw new InvalidOperationException("the 1B section's process wrote no scale_1b object");
        return ScaleBenchmarkResult.FromJson(json);
    }

    /// <summary>Where the checkpoint is kept by default: <c>$TMPDIR/neftune-scale/tinyllama-1.1b</c>.</summary>
    public static string DefaultDirectory => Path.Combine(Path.GetTempPath(), "neftune-scale", "tinyllama-1.1b");

    public static ScaleBenchmarkResult Run(string? directory, IReadOnlyList<string> pythons, long seed, Action<string>? log = null)
    {
        log ??= _ => { };
        var total = Stopwatch.StartNew();
        directory ??= DefaultDirectory;
        bool generated = false;
        if (!File.Exists(Path.Combine(directory, "model.safetensors.index.json")))
        {
            log($"writing the TinyLlama-1.1B-shaped checkpoint to {directory} (once; about 2.2 GB) ...");
            Generate(directory, pythons);
            generated = true;
        }
        long fileBytes = System.IO.Directory.GetFiles(directory, "*.safetensors").Sum(f => new FileInfo(f).Length);

        using var ceilings = new HardwareCeilings(2048, 128);
        ceilings.Sample(2);

        // 1. Load in the automatic dtype (bfloat16 where the CPU computes in it quickly), peak RSS of the load alone.
        Collect();
        ProcessMemory.TryResetPeak();
        var dtype = new ModelLoadOptions { DType = null }.Resolve(LlamaConfig.Load(Path.Combine(directory, "config.json")).TorchDtype, CpuFeatures.FastBFloat16, out var note);
        if (note is not null) log("note: " + note);
        var clock = Stopwatch.StartNew();
        double loadSeconds, loadPeak, modelBytes, decode;
        long parameters, bytesPerToken;
        using (var model = HuggingFaceCheckpoint.Load(directory, new ModelLoadOptions { DType = dtype }))
        {
            loadSeconds = clock.Elapsed.TotalSeconds;
            loadPeak = ProcessMemory.PeakWorkingSet;
            parameters = model.ParameterCount;
            modelBytes = ModelMemory.StoredBytes(model);
            log($"load: {parameters:N0} parameters in {dtype} in {loadSeconds:F1} s, peak RSS {loadPeak / 1e6:F0} MB for {modelBytes / 1e6:F0} MB of tensors");

            // 2. Decoding: every decoded token streams all weights but the embedding (one row of it is gathered).
            long embedding = model.Model.EmbeddingWeight.numel() * model.Model.EmbeddingWeight.element_size();
            bytesPerToken = (long)modelBytes - (model.Config.TieWordEmbeddings ? 0 : embedding);
            ceilings.Sample(1);
            (decode, _) = DecodeBenchmark.Measure(model, 32, 64, 3, seed, () => ceilings.Sample(1));   // 64 tokens: the prefill time subtracted stays small
            log($"decode: {decode:F2} tokens/s ({bytesPerToken / 1e9:F2} GB per token)");
        }

        // 3. QLoRA steps: NF4 base quantized from the bfloat16 weights, checkpointed first (its peak is the headline), then plain.
        Collect();
        ProcessMemory.TryResetPeak();
        const int tokens = 256;
        double qloraPeak, stored, checkpointed, plain, bf16 = 0;
        using (var model = HuggingFaceCheckpoint.Load(directory, new ModelLoadOptions { DType = ModelLoadOptions.StoredDType(directory) }))
        {
            var random = new Random(unchecked((int)seed));
            var examples = Enumerable.Range(0, 4).Select(_ =>
            {
                var ids = Enumerable.Range(0, tokens).Select(i => i == 0 ? 1 : 3 + random.Next(model.Config.VocabSize - 3)).ToArray();
                return new TokenizedExample(ids, ids.ToArray());
            }).ToList();
            var options = new TrainingOptions
            {
                Lora = new LoraOptions { Rank = 8, QuantizeBase = BaseQuantization.Nf4, SaveMergedModel = false },
                BatchSize = 1, MaxLength = tokens, MaxSteps = 4, LearningRate = 1e-4, WarmupRatio = 0, NoiseOffTrainSampleSize = 0,
                LoggingSteps = 1, Seed = seed, GradientCheckpointing = true, CheckMemory = false,
            };
            checkpointed = StepSeconds(model, examples, options, log, "QLoRA, gradient checkpointing");
            qloraPeak = ProcessMemory.PeakWorkingSet;
            stored = ModelMemory.StoredBytes(model);
            log($"QLoRA peak RSS {qloraPeak / 1e6:F0} MB (model tensors {stored / 1e6:F0} MB)");
            ceilings.Sample(1);
            plain = StepSeconds(model, examples, options with { GradientCheckpointing = false }, log, "QLoRA");
            if (CpuFeatures.FastBFloat16)
            {
                ceilings.Sample(1);
                bf16 = StepSeconds(model, examples, options with { GradientCheckpointing = false, BFloat16 = true }, log, "QLoRA, bfloat16 compute");
            }
        }
        ceilings.Sample(1);
        return new ScaleBenchmarkResult
        {
            Shape = "TinyLlama-1.1B", Directory = directory, Parameters = parameters, FileBytes = fileBytes, Generated = generated,
            LoadDType = dtype.ToString(), LoadSeconds = loadSeconds, LoadPeakRssMb = loadPeak / 1e6, LoadModelMb = modelBytes / 1e6,
            Fp32Gflops = Statistics.Median(ceilings.Fp32Gflops), CopyGbps = Statistics.Median(ceilings.CopyGbps),
            DecodeTokensPerSecond = decode, DecodeBytesPerToken = bytesPerToken,
            QloraTokensPerStep = tokens, QloraStepSeconds = plain, QloraCheckpointedStepSeconds = checkpointed, QloraBf16StepSeconds = bf16,
            QloraPeakRssMb = qloraPeak / 1e6, QloraStoredMb = stored / 1e6, ElapsedSeconds = total.Elapsed.TotalSeconds,
        };
    }

    /// <summary>
    /// Median time of the steps after the first two of one trainer run: the first faults the step's memory in and the
    /// second can still grow the heap (the checkpointed and plain steps allocate differently).
    /// </summary>
    private static double StepSeconds(LlamaForCausalLM model, IReadOnlyList<TokenizedExample> examples, TrainingOptions options, Action<string> log, string name)
    {
        var times = new List<double>();
        var clock = Stopwatch.StartNew();
        using var trainer = new NeftuneTrainer(model, examples, null, options);
        clock.Restart();
        trainer.Train(new InlineProgress(p =>
        {
            if (p.ValidationLoss is not null || p.TrainLoss is null) return;
            times.Add(clock.Elapsed.TotalSeconds);
            clock.Restart();
        }));
        var timed = times.Skip(2).ToList();
        log($"{name}: steps {string.Join(", ", times.Select(t => t.ToString("F2")))} s");
        return Statistics.Median(timed.Count > 0 ? timed : times);
    }

    private sealed class InlineProgress(Action<TrainingProgress> action) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => action(value);
    }

    private static void Generate(string directory, IReadOnlyList<string> pythons)
    {
        string? script = null;
        foreach (var start in new[] { AppContext.BaseDirectory, System.IO.Directory.GetCurrentDirectory() })
            for (var dir = new DirectoryInfo(start); dir is not null && script is null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "eng", "scale", "make_checkpoint.py"))) script = Path.Combine(dir.FullName, "eng", "scale", "make_checkpoint.py");
        if (script is null) throw new FileNotFoundException("eng/scale/make_checkpoint.py was not found above the tool or the current directory; run the bench from the repository or pass --scale-dir with a checkpoint");
        var errors = new List<string>();
        foreach (var python in pythons)
        {
            var info = new ProcessStartInfo(python) { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var a in new[] { script, "--shape", "tinyllama-1.1b", "--out", directory }) info.ArgumentList.Add(a);
            try
            {
                using var process = Process.Start(info)!;
                var stderr = process.StandardError.ReadToEndAsync();
                process.StandardOutput.ReadToEnd();
                if (!process.WaitForExit(TimeSpan.FromMinutes(20))) { process.Kill(); errors.Add($"{python}: timed out after 20 minutes"); continue; }
                if (process.ExitCode == 0) return;
                errors.Add($"{python}: exit {process.ExitCode}: {stderr.Result.Trim()}");
            }
            catch (System.ComponentModel.Win32Exception e) { errors.Add($"{python}: {e.Message}"); }
        }
        throw new InvalidOperationException("could not write the 1.1B checkpoint (needs a Python 3 with numpy): " + string.Join("; ", errors));
    }

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}
