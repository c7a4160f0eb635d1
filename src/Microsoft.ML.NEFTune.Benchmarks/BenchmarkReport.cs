using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.IO;

namespace Microsoft.ML.NEFTune.Benchmarks;

/// <summary>Measured figures of one <c>neftune bench</c> run. Throughputs and step times are medians.</summary>
public sealed record BenchmarkReport
{
    public bool Quick { get; init; }
    public string Machine { get; init; } = "";
    public int LogicalCores { get; init; }
    public int TorchThreads { get; init; }
    public int TorchInteropThreads { get; init; }
    public string OpenMpWaitPolicy { get; init; } = "default";
    public bool NativeMemoryTuning { get; init; }
    public double LoadAverageBefore { get; init; }
    public double LoadAverageAfter { get; init; }
    /// <summary>CPU time of this process over wall time × threads during the stories15M rounds (1 = had the cores to itself).</summary>
    public double CpuShare { get; init; }
    public int Rounds { get; init; }
    public int CeilingSamples { get; init; }
    public int TinyBatch { get; init; }
    public int TinySequence { get; init; }

    public double MatmulFp32Gflops { get; init; }
    public double MatmulBf16Gflops { get; init; }
    public int MatmulSize { get; init; }
    public double CopyGbps { get; init; }

    public string TrainShape { get; init; } = "";
    public long Parameters { get; init; }
    public int Batch { get; init; }
    public int Sequence { get; init; }
    public double TrainTokensPerSecond { get; init; }
    public double TrainTokensPerSecondNeftune { get; init; }
    public double TrainTokensPerSecondBf16 { get; init; }
    public double NeftuneOverhead { get; init; }

    /// <summary>Median time of the noise operation alone on one stories15M batch (see <see cref="NoiseCostBenchmark"/>).</summary>
    public double NeftuneNoiseMs { get; init; }

    /// <summary>(fp32 step + noise operation) ÷ fp32 step: what the noise adds, free of the spread between whole steps.</summary>
    public double NeftuneOverheadDirect => TrainTokensPerSecond > 0 ? 1 + NeftuneNoiseMs / 1000 * TrainTokensPerSecond / (Batch * (double)Sequence) : double.NaN;
    public double TrainLoss { get; init; }
    public double TinyTokensPerSecond { get; init; }
    public double TinyTokensPerSecondNeftune { get; init; }
    public double TinyNeftuneOverhead { get; init; }

    public double DecodeTokensPerSecond { get; init; }
    public double PrefillTokensPerSecond { get; init; }
    public long DecodeWeightBytesPerToken { get; init; }

    public double PeakWorkingSetMb { get; init; }
    public double WorkingSetBeforeTrainingMb { get; init; }
    public double TrainMemoryGrowthMb { get; init; }
    public long TrainLiveTensorGrowth { get; init; }

    public PyTorchPeerResult? PyTorch { get; init; }
    public double ElapsedSeconds { get; init; }

    /// <summary>6·params·tokens/s over the float32 matrix-product peak.</summary>
    public double MfuFp32 => Parameters * 6.0 * TrainTokensPerSecond / (MatmulFp32Gflops * 1e9);
    public double MfuBf16 => Parameters * 6.0 * TrainTokensPerSecondBf16 / (MatmulBf16Gflops * 1e9);
    public double Bf16Speedup => TrainTokensPerSecondBf16 / TrainTokensPerSecond;
    /// <summary>Weight bytes streamed per decoded token × tokens/s over the copy bandwidth.</summary>
    public double DecodeBandwidthFraction => DecodeWeightBytesPerToken * DecodeTokensPerSecond / (CopyGbps * 1e9);
    public double? VsPyTorch => PyTorch?.TokensPerSecond is double peer && peer > 0 ? TrainTokensPerSecond / peer : null;

    /// <summary>The 1B-class section (<c>--scale 1b</c>), or null.</summary>
    public ScaleBenchmarkResult? Scale1B { get; init; }

    public JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["quick"] = Quick,
            ["machine"] = Machine,
            ["logical_cores"] = LogicalCores,
            ["torch_threads"] = TorchThreads,
            ["torch_interop_threads"] = TorchInteropThreads,
            ["omp_wait_policy"] = OpenMpWaitPolicy,
            ["native_memory_tuning"] = NativeMemoryTuning,
            ["load_average_before"] = R(LoadAverageBefore, 2),
            ["load_average_after"] = R(LoadAverageAfter, 2),
            ["cpu_share"] = R(CpuShare, 3),
            ["rounds"] = Rounds,
            ["ceiling_samples"] = CeilingSamples,
            ["matmul_size"] = MatmulSize,
            ["matmul_fp32_gflops"] = R(MatmulFp32Gflops, 1),
            ["matmul_bf16_gflops"] = R(MatmulBf16Gflops, 1),
            ["copy_gbps"] = R(CopyGbps, 2),
            ["train_shape"] = TrainShape,
            ["params"] = Parameters,
            ["batch"] = Batch,
            ["seq"] = Sequence,
            ["train_tokens_per_s"] = R(TrainTokensPerSecond, 1),
            ["train_tokens_per_s_neftune"] = R(TrainTokensPerSecondNeftune, 1),
            ["train_tokens_per_s_bf16"] = R(TrainTokensPerSecondBf16, 1),
            ["bf16_speedup"] = R(Bf16Speedup, 3),
            ["mfu_fp32"] = R(MfuFp32, 4),
            ["mfu_bf16"] = R(MfuBf16, 4),
            ["neftune_overhead"] = R(NeftuneOverhead, 4),
            ["neftune_noise_ms"] = R(NeftuneNoiseMs, 3),
            ["neftune_overhead_direct"] = R(NeftuneOverheadDirect, 4),
            ["train_loss"] = R(TrainLoss, 4),
            ["tiny_batch"] = TinyBatch,
            ["tiny_seq"] = TinySequence,
            ["tiny_train_tokens_per_s"] = R(TinyTokensPerSecond, 1),
            ["tiny_train_tokens_per_s_neftune"] = R(TinyTokensPerSecondNeftune, 1),
            ["tiny_neftune_overhead"] = R(TinyNeftuneOverhead, 4),
            ["decode_tokens_per_s"] = R(DecodeTokensPerSecond, 1),
            ["prefill_tokens_per_s"] = R(PrefillTokensPerSecond, 1),
            ["decode_weight_bytes_per_token"] = DecodeWeightBytesPerToken,
            ["decode_bandwidth_fraction"] = R(DecodeBandwidthFraction, 4),
            ["peak_working_set_mb"] = R(PeakWorkingSetMb, 1),
            ["working_set_before_training_mb"] = R(WorkingSetBeforeTrainingMb, 1),
            ["train_memory_growth_mb"] = R(TrainMemoryGrowthMb, 1),
            ["train_live_tensor_growth"] = TrainLiveTensorGrowth,
        };
        if (PyTorch is { } peer)
        {
            json["pytorch"] = new JsonObject
            {
                ["available"] = peer.Available,
                ["reason"] = peer.Reason,
                ["python"] = peer.Python,
                ["torch_version"] = peer.TorchVersion,
                ["threads"] = peer.Threads,
                ["interop_threads"] = peer.InteropThreads,
                ["train_tokens_per_s"] = peer.TokensPerSecond is double t ? R(t, 1) : null,
                ["first_loss"] = peer.FirstLoss is double l ? R(l, 4) : null,
                ["params"] = peer.Parameters,
                ["blas"] = peer.Blas,
                ["environment"] = peer.Environment is null ? null : new JsonObject(peer.Environment.Select(e => KeyValuePair.Create(e.Key, (JsonNode?)e.Value))),
            };
            json["vs_pytorch"] = VsPyTorch is double ratio ? R(ratio, 3) : null;
        }
        json["cpu_fast_bf16"] = CpuFeatures.FastBFloat16;
        json["cpu_bf16_flags"] = new JsonArray(CpuFeatures.BFloat16Flags.Select(f => (JsonNode)f).ToArray());
        json["cpu_bf16_source"] = CpuFeatures.Source;
        if (Scale1B is { } scale) json["scale_1b"] = scale.ToJson();
        json["elapsed_s"] = R(ElapsedSeconds, 1);
        return json;
    }

    private static double R(double value, int digits) => double.IsFinite(value) ? Math.Round(value, digits) : 0;

    /// <summary>The figures as a plain-text table with their targets beside them (bfloat16 targets only where the CPU has fast bfloat16).</summary>
    public string ToTable()
    {
        var inv = CultureInfo.InvariantCulture;
        var rows = new List<(string What, string Value, string Target)>
        {
            ("fp32 matmul peak", string.Format(inv, "{0:F1} GFLOP/s ({1}²)", MatmulFp32Gflops, MatmulSize), ""),
            ("bf16 matmul peak", string.Format(inv, "{0:F1} GFLOP/s ({1}²)", MatmulBf16Gflops, MatmulSize), ""),
            ("copy bandwidth", string.Format(inv, "{0:F2} GB/s (read + write)", CopyGbps), ""),
            ($"train fp32 ({TrainShape}, {Batch}×{Sequence})", string.Format(inv, "{0:F1} tokens/s", TrainTokensPerSecond), ""),
            ("  mfu_fp32", string.Format(inv, "{0:F3}", MfuFp32), Mark(MfuFp32 >= 0.7, "≥ 0.7")),
            ("train fp32 + NEFTune", string.Format(inv, "{0:F1} tokens/s", TrainTokensPerSecondNeftune), ""),
            ("  neftune_overhead", string.Format(inv, "{0:F3}", NeftuneOverhead), Mark(NeftuneOverhead <= 1.02, "≤ 1.02")),
            ("  noise operation alone", string.Format(inv, "{0:F2} ms per step (overhead {1:F4})", NeftuneNoiseMs, NeftuneOverheadDirect), Mark(NeftuneOverheadDirect <= 1.02, "≤ 1.02")),
            ("train bf16", string.Format(inv, "{0:F1} tokens/s", TrainTokensPerSecondBf16), ""),
            ("  bf16 / fp32", string.Format(inv, "{0:F2}×", Bf16Speedup), CpuFeatures.FastBFloat16 ? Mark(Bf16Speedup >= 2.5, "≥ 2.5×") : "not judged: no fast bfloat16 on this CPU"),
            ($"train tiny fp32 ({TinyBatch}×{TinySequence})", string.Format(inv, "{0:F1} tokens/s", TinyTokensPerSecond), ""),
            ("train tiny + NEFTune", string.Format(inv, "{0:F1} tokens/s (overhead {1:F3})", TinyTokensPerSecondNeftune, TinyNeftuneOverhead), ""),
            ("decode (KV cache)", string.Format(inv, "{0:F1} tokens/s", DecodeTokensPerSecond), ""),
            ("  bandwidth fraction", string.Format(inv, "{0:F3} ({1:F1} MB of weights per token)", DecodeBandwidthFraction, DecodeWeightBytesPerToken / 1e6), Mark(DecodeBandwidthFraction >= 0.5, "≥ 0.5")),
            ("prefill", string.Format(inv, "{0:F1} tokens/s", PrefillTokensPerSecond), ""),
            ("peak working set (training)", string.Format(inv, "{0:F0} MB", PeakWorkingSetMb), Mark(PeakWorkingSetMb < 1536, "< 1.5 GB")),
            ("  growth over training steps", string.Format(inv, "{0:F1} MB, {1} live tensors", TrainMemoryGrowthMb, TrainLiveTensorGrowth), Mark(TrainLiveTensorGrowth == 0 && TrainMemoryGrowthMb < 32, "flat")),
        };
        if (Scale1B is { } scale)
        {
            rows.Add(($"1B: load ({scale.LoadDType})", string.Format(inv, "{0:F1} s, peak {1:F0} MB for {2:F0} MB of tensors ({3:F2}×)", scale.LoadSeconds, scale.LoadPeakRssMb, scale.LoadModelMb, scale.LoadPeakRssMb / scale.LoadModelMb), Mark(scale.LoadPeakRssMb <= 1.3 * scale.LoadModelMb, "≤ 1.3×")));
            rows.Add(("1B: decode", string.Format(inv, "{0:F2} tokens/s, bandwidth fraction {1:F3}", scale.DecodeTokensPerSecond, scale.DecodeBandwidthFraction), Mark(scale.DecodeBandwidthFraction >= 0.7, "≥ 0.7")));
            rows.Add(("1B: QLoRA step (NF4, 1×256)", string.Format(inv, "{0:F2} s, {1:F1} tokens/s, qlora_mfu {2:F3}", scale.QloraStepSeconds, scale.QloraTokensPerSecond, scale.QloraMfu), Mark(scale.QloraMfu >= 0.5, "≥ 0.5")));
            rows.Add(("  gradient checkpointing", string.Format(inv, "{0:F2} s a step ({1:F2}×), peak {2:F0} MB", scale.QloraCheckpointedStepSeconds, scale.CheckpointingStepRatio, scale.QloraPeakRssMb), Mark(scale.QloraPeakRssMb < 4500, "< 4.5 GB")));
            if (scale.QloraBf16StepSeconds > 0)
                rows.Add(("  bfloat16 compute", string.Format(inv, "{0:F2} s a step ({1:F2}× float32)", scale.QloraBf16StepSeconds, scale.QloraStepSeconds / scale.QloraBf16StepSeconds), ""));
        }
        if (PyTorch is { } peer)
        {
            if (peer.Available)
            {
                rows.Add(($"PyTorch {peer.TorchVersion} ({peer.Threads} thread{(peer.Threads == 1 ? "" : "s")})", string.Format(inv, "{0:F1} tokens/s", peer.TokensPerSecond), ""));
                rows.Add(("  its BLAS", peer.Blas ?? "unknown", ""));
                rows.Add(("  ours / PyTorch", string.Format(inv, "{0:F2}×", VsPyTorch), Mark(VsPyTorch >= 1, "≥ 1")));
            }
            else rows.Add(("PyTorch peer", "not run: " + peer.Reason, ""));
        }
        int w1 = rows.Max(r => r.What.Length), w2 = rows.Max(r => r.Value.Length);
        var text = new StringBuilder();
        text.AppendLine(string.Format(inv, "{0}; {1} cores, torch threads {2} (interop {3}), OMP_WAIT_POLICY {4}, freed native memory kept: {8}; medians of {5} interleaved rounds, {6} ceiling samples{7}",
            Machine, LogicalCores, TorchThreads, TorchInteropThreads, OpenMpWaitPolicy, Rounds, CeilingSamples, Quick ? "; QUICK run (reduced sizes, not comparable)" : "", NativeMemoryTuning ? "yes" : "no"));
        text.AppendLine(string.Format(inv, "load average {0:F2} before, {1:F2} after; this process had {2:P0} of its threads' CPU during the training rounds{3}",
            LoadAverageBefore, LoadAverageAfter, CpuShare, CpuShare < 0.8 ? " (the machine was busy: all figures are low)" : ""));
        foreach (var (what, value, target) in rows)
            text.AppendLine($"{what.PadRight(w1)}  {value.PadRight(w2)}  {target}".TrimEnd());
        text.Append(string.Format(inv, "{0:F0} s", ElapsedSeconds));
        return text.ToString();
    }

    private static string Mark(bool met, string target) => (met ? "met " : "NOT met ") + target;
}

internal static class Statistics
{
    /// <summary>The median (mean of the two middle values for an even count); NaN for none.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Where(double.IsFinite).OrderBy(v => v).ToArray();
        if (sorted.Length == 0) return double.NaN;
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
