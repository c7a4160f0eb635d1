using System.CommandLine;
using Microsoft.ML.NEFTune.Benchmarks;
using Microsoft.ML.NEFTune.IO;

namespace Microsoft.ML.NEFTune.Cli.Commands;

using Command = System.CommandLine.Command;

/// <summary>
/// <c>neftune bench</c>: this machine's matrix-product and copy ceilings, training, decoding and memory figures of the
/// library measured in one process, optionally beside a PyTorch peer trained on the same batches.
/// </summary>
public static class BenchCommand
{
    public static Command Create(CliContext context)
    {
        var json = new Option<bool>("--json")
        {
            Description = "Print one JSON object with every figure instead of the progress lines and the table.",
        };
        var quick = new Option<bool>("--quick")
        {
            Description = "Reduced sizes and repetitions (seconds): shows that the benchmark runs; its figures are not comparable.",
        };
        var vsPyTorch = new Option<bool>("--vs-pytorch")
        {
            Description = "Also train the same shape on the same batches with PyTorch (eng/bench/pytorch_peer.py) and report the ratio.",
        };
        var peerScript = new Option<string?>("--peer-script")
        {
            Description = "The PyTorch peer script. Default: eng/bench/pytorch_peer.py of the nearest parent folder of the tool or the current directory.",
            HelpName = "PATH",
        };
        var python = new Option<string?>("--python")
        {
            Description = "Python interpreter for the peer. Default: python3 on PATH, then /usr/bin/python3.",
            HelpName = "PATH",
        };
        var threads = new Option<int?>("--threads")
        {
            Description = "libtorch intra-op threads. Default: libtorch's own choice.",
            HelpName = "N",
        }.Positive();
        var rounds = new Option<int?>("--rounds")
        {
            Description = "Interleaved rounds of each training measurement; the medians are reported. Default: 7 (2 with --quick).",
            HelpName = "N",
        }.Positive();

        var scale = new Option<string?>("--scale")
        {
            Description = "Also run the 1B-class section: 1b = a random-weight checkpoint of TinyLlama-1.1B's shape (load, decoding, QLoRA steps with and without gradient checkpointing; about 10 GB of memory at most). The checkpoint is written once by eng/scale/make_checkpoint.py.",
            HelpName = "1b",
        }.AcceptOnlyFromAmong("1b");
        var scaleDir = new Option<string?>("--scale-dir")
        {
            Description = "Folder of the 1B checkpoint (made there when missing). Default: $TMPDIR/neftune-scale/tinyllama-1.1b.",
            HelpName = "DIR",
        };
        var scaleOnly = new Option<bool>("--scale-only")
        {
            Description = "With --scale: run only the 1B section (no stories15M rounds); the JSON then holds the CPU keys and scale_1b.",
        };
        var command = new Command("bench", "Measure training, decoding and memory against this machine's matrix-product and copy ceilings (and PyTorch).");
        var loraTable = new Option<string?>("--lora-table")
        {
            Description = "Run only the LoRA memory and speed table of docs/lora.md (full fine-tuning and LoRA over float32, int8 and NF4 bases; stories15M shape, 4 × 256 tokens) and write it to FILE as Markdown.",
            HelpName = "FILE",
        };
        foreach (var option in new Option[] { json, quick, vsPyTorch, peerScript, python, threads, rounds, scale, scaleDir, scaleOnly, loraTable })
            command.Options.Add(option);

        context.SetAction(command, r =>
        {
            bool asJson = r.GetValue(json);
            var script = r.GetValue(peerScript);
            if (script is not null && !File.Exists(script))
                throw new CliUsageException($"--peer-script: {script} does not exist");
            var options = new BenchmarkOptions
            {
                Quick = r.GetValue(quick),
                VsPyTorch = r.GetValue(vsPyTorch),
                PeerScript = script,
                Pythons = r.GetValue(python) is string p ? new[] { p } : new BenchmarkOptions().Pythons,
                Threads = r.GetValue(threads),
                Rounds = r.GetValue(rounds),
            };
            Action<string>? log = asJson ? null : line => { context.Out.WriteLine(line); context.Out.Flush(); };
            if (r.GetValue(loraTable) is string tablePath)
            {
                if (options.Threads is int n) TorchSharp.torch.set_num_threads(n);
                AtomicFile.WriteAllText(tablePath, LoraBenchmark.MeasureStories15M() + "\n");
                log?.Invoke($"LoRA table written to {tablePath}");
                return ExitCodes.Success;
            }
            bool runScale = r.GetValue(scale) is not null;
            if (r.GetValue(scaleOnly) && !runScale) throw new CliUsageException("--scale-only needs --scale 1b");
            if (runScale && r.GetValue(scaleOnly))
            {
                if (options.Threads is int n) TorchSharp.torch.set_num_threads(n);
                var only = ScaleBenchmark.Run(r.GetValue(scaleDir), options.Pythons, options.Seed, log);
                var json = new System.Text.Json.Nodes.JsonObject
                {
                    ["cpu_fast_bf16"] = CpuFeatures.FastBFloat16,
                    ["cpu_bf16_flags"] = new System.Text.Json.Nodes.JsonArray(CpuFeatures.BFloat16Flags.Select(f => (System.Text.Json.Nodes.JsonNode)f).ToArray()),
                    ["torch_threads"] = TorchSharp.torch.get_num_threads(),
                    ["scale_1b"] = only.ToJson(),
                };
                context.Out.WriteLine(asJson ? json.ToJsonString() : json.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
                return ExitCodes.Success;
            }
            var report = BenchmarkRunner.Run(options, log);
            if (runScale)
            {
                var childArguments = new List<string>();
                if (options.Threads is int t) childArguments.AddRange(new[] { "--threads", t.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                if (r.GetValue(python) is string py) childArguments.AddRange(new[] { "--python", py });
                if (r.GetValue(scaleDir) is string dir) childArguments.AddRange(new[] { "--scale-dir", dir });
                log?.Invoke("1B section (in a process of its own) ...");
                report = report with { Scale1B = ScaleBenchmark.RunInChildProcess(childArguments, log) };
            }
            if (asJson) context.Out.WriteLine(report.ToJson().ToJsonString());
            else
            {
                context.Out.WriteLine();
                context.Out.WriteLine(report.ToTable());
            }
            return ExitCodes.Success;
        });
        return command;
    }
}
