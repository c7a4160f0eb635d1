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

    /// <summary>
    /// Environment of the peer: by default glibc's allocator keeps freed memory (what <see cref="Training.NativeMemoryTuning.KeepFreedMemory"/>
    /// does for the .NET trainer), so neither side pays for returning memory to the kernel. OMP_WAIT_POLICY is
    /// passed on as this process has it.
    /// </summary>
    public IReadOnlyDictionary<string, string> PeerEnvironment { get; init; } = new Dictionary<string, string>
    {
        ["MALLOC_MMAP_MAX_"] = "0",
        ["MALLOC_TRIM_THRESHOLD_"] = "2147483647",
    };

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
        var loadBefore = LoadAverage();
        if (options.Threads is int threads) torch.set_num_threads(threads);
        bool quick = options.Quick;
        int rounds = options.Rounds ?? (quick ? 2 : 7);
        int matmulSize = quick ? 1024 : 2048, copyMegabytes = quick ? 64 : 128;

        // 1. Tiny shape, NEFTune off and on, interleaved.
        var tinyShape = quick ? BenchmarkShape.Tiny(4, 64) : BenchmarkShape.Tiny();
        var tinyData = new BenchmarkData(tinyShape, 2, options.Seed);
        double tinyOff, tinyOn;
        using (var off = new TrainingStepper("tiny fp32", tinyData, 0, false, options.Seed))
        using (var on = new TrainingStepper("tiny fp32 + NEFTune", tinyData, 5, false, options.Seed))
        {
            var steppers = new[] { off, on };
            Warmup(steppers, quick ? 1 : 2);
            Interleave(steppers, quick ? 2 : 2 * rounds, null, null);
            tinyOff = MedianOfTimed(off); tinyOn = MedianOfTimed(on);
        }
        log($"tiny ({tinyShape.Batch}×{tinyShape.Sequence}): {tinyShape.TokensPerStep / tinyOff:F0} tokens/s, with NEFTune {tinyShape.TokensPerStep / tinyOn:F0} tokens/s");

        // 2. stories15M shape. First the noise-on trainer alone: its peak working set and growth over its steps.
        var shape = quick ? BenchmarkShape.Stories15M(2, 64) : BenchmarkShape.Stories15M();
        var data = new BenchmarkData(shape, 2, options.Seed);
        Collect();
        ProcessMemory.TryResetPeak();
        double before = ProcessMemory.WorkingSet;
        TrainingStepper? on15 = new TrainingStepper("fp32 + NEFTune", data, 5, false, options.Seed), off15 = null, bf15 = null;
        HardwareCeilings? ceilings = null;
        double peak, growth, cpuShare, stepOff, stepOn, stepBf, trainLoss;
        long liveGrowth;
        double decode, prefill, noiseSeconds;
        long weightBytes;
        try
        {
            int memorySteps = quick ? 4 : 6;
            var rss = new List<double>(); var live = new List<long>();
            for (int s = 0; s < memorySteps; s++)
            {
                on15.Step();
                rss.Add(ProcessMemory.WorkingSet);
                live.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);
            }
            peak = ProcessMemory.PeakWorkingSet;
            growth = rss[^1] - rss[2];
            liveGrowth = live[^1] - live[2];
            log($"{shape.Name} training memory: peak working set {peak / 1e6:F0} MB ({before / 1e6:F0} MB before), " +
                $"{growth / 1e6:F1} MB and {liveGrowth} live tensors more after step {memorySteps} than after step 3");

            // 3. The ceilings, sampled before and between the training rounds and decoding runs.
            ceilings = new HardwareCeilings(matmulSize, copyMegabytes);
            ceilings.Sample(quick ? 2 : 3);
            log($"ceilings: fp32 {Statistics.Median(ceilings.Fp32Gflops):F1} GFLOP/s, bf16 {Statistics.Median(ceilings.Bf16Gflops):F1} GFLOP/s, copy {Statistics.Median(ceilings.CopyGbps):F2} GB/s");

            off15 = new TrainingStepper("fp32", data, 0, false, options.Seed);
            bf15 = new TrainingStepper("bf16", data, 0, true, options.Seed);
            Warmup(new[] { off15, bf15 }, 1);
            on15.StepSeconds.Clear();
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var wall = Stopwatch.StartNew();
            Interleave(new[] { off15, on15, bf15 }, quick ? 1 : rounds, ceilings, log);
            cpuShare = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds / wall.Elapsed.TotalSeconds / torch.get_num_threads();
            noiseSeconds = NoiseCostBenchmark.Measure(shape, quick ? 5 : 50, options.Seed);
            log($"NEFTune noise operation alone: {noiseSeconds * 1e3:F2} ms per batch");

            // 4. Decoding and prefill (a fresh model of the same shape, evaluation mode).
            (stepOff, stepOn, stepBf, trainLoss) = (MedianOfTimed(off15), MedianOfTimed(on15), MedianOfTimed(bf15), off15.Losses[^1]);
            on15.Dispose(); off15.Dispose(); bf15.Dispose();
            on15 = off15 = bf15 = null;
            Collect();
            using var model = new LlamaForCausalLM(shape.Config);
            model.InitializeWeights(options.Seed);
            model.eval();
            weightBytes = model.parameters().Sum(p => p.numel() * p.element_size());
            (decode, prefill) = DecodeBenchmark.Measure(model, quick ? 16 : 128, quick ? 16 : 128, quick ? 1 : Math.Max(3, rounds / 2), options.Seed, () => ceilings.Sample(1));
            log($"decode {decode:F1} tokens/s, prefill {prefill:F1} tokens/s");
        }
        finally
        {
            on15?.Dispose(); off15?.Dispose(); bf15?.Dispose(); ceilings?.Dispose();
        }
        // 5. The PyTorch peer on the same batches.
        PyTorchPeerResult? peer = null;
        if (options.VsPyTorch)
        {
            log("PyTorch peer: training the same shape on the same batches ...");
            var environment = new Dictionary<string, string>(options.PeerEnvironment);
            if (Training.OpenMpWaitPolicy.Current() is string policy) environment["OMP_WAIT_POLICY"] = policy;
            peer = PyTorchPeer.Run(data, quick ? 2 : 3, 1, torch.get_num_threads(), PyTorchPeer.FindScript(options.PeerScript), options.Pythons,
                TimeSpan.FromMinutes(quick ? 5 : 20), environment);
            log(peer.Available ? $"PyTorch {peer.TorchVersion}: {peer.TokensPerSecond:F1} tokens/s" : $"PyTorch peer not run: {peer.Reason}");
        }

        return new BenchmarkReport
        {
            Quick = quick,
            Machine = MachineName(),
            LogicalCores = Environment.ProcessorCount,
            TorchThreads = torch.get_num_threads(),
            TorchInteropThreads = torch.get_num_interop_threads(),
            OpenMpWaitPolicy = Training.OpenMpWaitPolicy.Current() ?? "default",
            NativeMemoryTuning = Training.NativeMemoryTuning.IsApplied,
            LoadAverageBefore = loadBefore,
            LoadAverageAfter = LoadAverage(),
            CpuShare = cpuShare,
            Rounds = quick ? 1 : rounds,
            MatmulSize = matmulSize,
            MatmulFp32Gflops = Statistics.Median(ceilings.Fp32Gflops),
            MatmulBf16Gflops = Statistics.Median(ceilings.Bf16Gflops),
            CopyGbps = Statistics.Median(ceilings.CopyGbps),
            CeilingSamples = ceilings.Fp32Gflops.Count,
            TrainShape = shape.Name,
            Parameters = shape.ParameterCount,
            Batch = shape.Batch,
            Sequence = shape.Sequence,
            TrainTokensPerSecond = shape.TokensPerStep / stepOff,
            TrainTokensPerSecondNeftune = shape.TokensPerStep / stepOn,
            TrainTokensPerSecondBf16 = shape.TokensPerStep / stepBf,
            NeftuneOverhead = stepOn / stepOff,
            NeftuneNoiseMs = noiseSeconds * 1e3,
            TrainLoss = trainLoss,
            TinyBatch = tinyShape.Batch,
            TinySequence = tinyShape.Sequence,
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

    /// <summary>
    /// Rounds of one step of each stepper, the order rotated every round so no variant always goes first, and a sample
    /// of the ceilings in each round.
    /// </summary>
    private static void Interleave(IReadOnlyList<TrainingStepper> steppers, int rounds, HardwareCeilings? ceilings, Action<string>? log)
    {
        for (int r = 0; r < rounds; r++)
        {
            ceilings?.Sample(1);
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

    /// <summary>The 1-minute load average (runnable threads on the whole machine), or NaN where unknown.</summary>
    private static double LoadAverage()
    {
        try
        {
            var text = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg") : null;
            return text is null ? double.NaN : double.Parse(text.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException) { return double.NaN; }
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
