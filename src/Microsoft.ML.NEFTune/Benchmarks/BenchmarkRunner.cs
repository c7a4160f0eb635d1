using System.Diagnostics;
using Microsoft.ML.NEFTune.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Benchmarks;

/// <summary>Settings of a benchmark run.</summary>
public sealed record BenchmarkOptions
{
    /// <summary>Reduced sizes and repetitions, for a run of seconds that only shows the benchmark works.</summary>
    public bool Quick { get; init; }

    /// <summary>Also run the PyTorch peer on the same batches.</summary>
    public bool VsPyTorch { get; init; }

    /// <summary>The peer script; null = look for <c>eng/bench/pytorch_peer.py</c>.</summary>
    public string? PeerScript { get; init; }

    /// <summary>Interpreters tried in turn for the peer; the first that imports torch runs it.</summary>
    public IReadOnlyList<string> Pythons { get; init; } = new[] { "python3", "/usr/bin/python3" };

    /// <summary>libtorch intra-op threads; null = leave libtorch's default.</summary>
    public int? Threads { get; init; }

    /// <summary>Interleaved rounds of each training measurement; null = 7 (quick: 2).</summary>
    public int? Rounds { get; init; }

    public long Seed { get; init; } = 1234;
}

/// <summary>
/// Runs every measurement of <c>neftune bench</c> in this process: the machine's ceilings, training steps of a tiny and
/// a stories15M-shaped model with NEFTune off and on (interleaved, medians), bfloat16 training, KV-cache decoding and
/// prefill, peak working set, and optionally the PyTorch peer.
/// </summary>
public static class BenchmarkRunner
{
    public static BenchmarkReport Run(BenchmarkOptions options, Action<string>? log = null)
    {
        log ??= _ => { };
        var total = Stopwatch.StartNew();
        if (options.Threads is int threads) torch.set_num_threads(threads);
        bool quick = options.Quick;
        int rounds = options.Rounds ?? (quick ? 2 : 7);

        // 1. Ceilings, interleaved.
        int n = quick ? 1024 : 2048;
        var fp32 = new List<double>(); var bf16 = new List<double>(); var copy = new List<double>();
        for (int r = 0; r < (quick ? 1 : 3); r++)
        {
            fp32.Add(HardwareCeilings.MatmulGflops(ScalarType.Float32, n, quick ? 3 : 5));
            bf16.Add(HardwareCeilings.MatmulGflops(ScalarType.BFloat16, n, quick ? 3 : 5));
            copy.Add(HardwareCeilings.CopyGbps(quick ? 64 : 256, quick ? 3 : 5));
        }
        double fp32Peak = Statistics.Median(fp32), bf16Peak = Statistics.Median(bf16), copyBw = Statistics.Median(copy);
        log($"ceilings: fp32 {fp32Peak:F1} GFLOP/s, bf16 {bf16Peak:F1} GFLOP/s, copy {copyBw:F2} GB/s");

        // 2. Tiny shape, NEFTune off and on.
        var tinyShape = quick ? BenchmarkShape.Tiny(4, 64) : BenchmarkShape.Tiny();
        var tinyData = new BenchmarkData(tinyShape, 2, options.Seed);
        double tinyOff, tinyOn;
        using (var off = new TrainingStepper("tiny fp32", tinyData, 0, false, options.Seed))
        using (var on = new TrainingStepper("tiny fp32 + NEFTune", tinyData, 5, false, options.Seed))
        {
            var steppers = new[] { off, on };
            Warmup(steppers, quick ? 1 : 3);
            Interleave(steppers, quick ? 2 : 3 * rounds);
            tinyOff = MedianOfTimed(off); tinyOn = MedianOfTimed(on);
        }
        log($"tiny: {tinyShape.TokensPerStep / tinyOff:F0} tokens/s, NEFTune {tinyShape.TokensPerStep / tinyOn:F0} tokens/s");

        // 3. stories15M shape. First the noise-on trainer alone: peak working set and growth over its steps.
        var shape = quick ? BenchmarkShape.Stories15M(2, 64) : BenchmarkShape.Stories15M();
        var data = new BenchmarkData(shape, 2, options.Seed);
        Collect();
        ProcessMemory.TryResetPeak();
        double before = ProcessMemory.WorkingSet;
        var on15 = new TrainingStepper("fp32 + NEFTune", data, 5, false, options.Seed);
        TrainingStepper? off15 = null, bf15 = null;
        double peak, growth; long liveGrowth;
        try
        {
            int memorySteps = quick ? 3 : 5;
            var rss = new List<double>(); var live = new List<long>();
            for (int s = 0; s < memorySteps; s++)
            {
                on15.Step();
                rss.Add(ProcessMemory.WorkingSet);
                live.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);
            }
            peak = ProcessMemory.PeakWorkingSet;
            growth = rss[^1] - rss[1];
            liveGrowth = live[^1] - live[1];
            log($"{shape.Name} memory: peak {peak / 1e6:F0} MB (before {before / 1e6:F0} MB), growth {growth / 1e6:F1} MB and {liveGrowth} live tensors over {memorySteps - 2} steps");

            off15 = new TrainingStepper("fp32", data, 0, false, options.Seed);
            bf15 = new TrainingStepper("bf16", data, 0, true, options.Seed);
            Warmup(new[] { off15, bf15 }, 1);
            on15.StepSeconds.Clear();
            Interleave(new[] { off15, on15, bf15 }, quick ? 1 : rounds, log);
        }
        finally
        {
            on15.Dispose(); off15?.Dispose(); bf15?.Dispose();
        }
        double stepOff = MedianOfTimed(off15!), stepOn = MedianOfTimed(on15), stepBf = MedianOfTimed(bf15!);

        // 4. Decoding and prefill.
        Collect();
        double decode, prefill;
        long weightBytes;
        using (var model = new LlamaForCausalLM(shape.Config))
        {
            model.InitializeWeights(options.Seed);
            model.eval();
            weightBytes = model.parameters().Sum(p => p.numel() * p.element_size());
            (decode, prefill) = DecodeBenchmark.Measure(model, quick ? 16 : 128, quick ? 16 : 128, quick ? 1 : rounds, options.Seed);
        }
        log($"decode {decode:F1} tokens/s, prefill {prefill:F1} tokens/s");

        // 5. The PyTorch peer on the same batches.
        PyTorchPeerResult? peer = null;
        if (options.VsPyTorch)
        {
            int peerSteps = quick ? 2 : 4;
            peer = PyTorchPeer.Run(data, peerSteps, 1, torch.get_num_threads(), PyTorchPeer.FindScript(options.PeerScript), options.Pythons, TimeSpan.FromMinutes(quick ? 5 : 20));
            log(peer.Available ? $"PyTorch {peer.TorchVersion}: {peer.TokensPerSecond:F1} tokens/s" : $"PyTorch peer not run: {peer.Reason}");
        }

        return new BenchmarkReport
        {
            Quick = quick,
            Machine = MachineName(),
            LogicalCores = Environment.ProcessorCount,
            TorchThreads = torch.get_num_threads(),
            TorchInteropThreads = torch.get_num_interop_threads(),
            Rounds = rounds,
            MatmulSize = n,
            MatmulFp32Gflops = fp32Peak,
            MatmulBf16Gflops = bf16Peak,
            CopyGbps = copyBw,
            TrainShape = shape.Name,
            Parameters = shape.ParameterCount,
            Batch = shape.Batch,
            Sequence = shape.Sequence,
            TrainTokensPerSecond = shape.TokensPerStep / stepOff,
            TrainTokensPerSecondNeftune = shape.TokensPerStep / stepOn,
            TrainTokensPerSecondBf16 = shape.TokensPerStep / stepBf,
            NeftuneOverhead = stepOn / stepOff,
            TrainLoss = off15!.Losses[^1],
            TinyTokensPerSecond = tinyShape.TokensPerStep / tinyOff,
            TinyTokensPerSecondNeftune = tinyShape.TokensPerStep / tinyOn,
            TinyNeftuneOverhead = tinyOn / tinyOff,
            DecodeTokensPerSecond = decode,
            PrefillTokensPerSecond = prefill,
            DecodeWeightBytesPerToken = weightBytes,
            PeakWorkingSetMb = peak / 1e6,
            WorkingSetBeforeTrainingMb = before / 1e6,
            TrainMemoryGrowthMb = growth / 1e6,
            TrainLiveTensorGrowth = liveGrowth,
            ProcessPeakWorkingSetMb = Math.Max(ProcessMemory.PeakWorkingSet, (long)peak) / 1e6,
            PyTorch = peer,
            ElapsedSeconds = total.Elapsed.TotalSeconds,
        };
    }

    private static void Warmup(IEnumerable<TrainingStepper> steppers, int steps)
    {
        foreach (var s in steppers)
        {
            for (int i = 0; i < steps; i++) s.Step();
            s.StepSeconds.Clear();
        }
    }

    /// <summary>Rounds of one step of each stepper, the order rotated every round so no variant always goes first.</summary>
    private static void Interleave(IReadOnlyList<TrainingStepper> steppers, int rounds, Action<string>? log = null)
    {
        for (int r = 0; r < rounds; r++)
        {
            var times = new List<string>();
            for (int i = 0; i < steppers.Count; i++)
            {
                var s = steppers[(r + i) % steppers.Count];
                times.Add($"{s.Name} {s.Step():F3} s");
            }
            log?.Invoke($"  round {r + 1}/{rounds}: {string.Join(", ", times)}");
        }
    }

    private static double MedianOfTimed(TrainingStepper s) => Statistics.Median(s.StepSeconds);

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private static string MachineName()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                    if (line.StartsWith("model name", StringComparison.Ordinal)) return line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { }
        return System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString();
    }
}
