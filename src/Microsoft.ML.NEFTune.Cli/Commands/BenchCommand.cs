using System.CommandLine;
using Microsoft.ML.NEFTune.Benchmarks;

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

        var command = new Command("bench", "Measure training, decoding and memory against this machine's matrix-product and copy ceilings (and PyTorch).");
        foreach (var option in new Option[] { json, quick, vsPyTorch, peerScript, python, threads, rounds })
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
            var report = BenchmarkRunner.Run(options, asJson ? null : line => { context.Out.WriteLine(line); context.Out.Flush(); });
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
