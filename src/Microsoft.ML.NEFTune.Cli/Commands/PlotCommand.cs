using System.CommandLine;
using Microsoft.ML.NEFTune.Cli.Display;
using Microsoft.ML.NEFTune.Experiments;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Cli.Commands;

using Command = System.CommandLine.Command;

/// <summary><c>neftune plot</c>: draw the loss curves of one or more runs from their metrics files.</summary>
public static class PlotCommand
{
    public static Command Create(CliContext context)
    {
        var files = new Argument<string[]>("METRICS")
        {
            Description = "metrics.jsonl files written by train or compare (a run folder stands for its metrics.jsonl). Several runs are overlaid.",
            Arity = ArgumentArity.OneOrMore,
        };
        var output = new Option<string>("--out", "-o") { Description = "Image file to write: .png, .svg or .jpg.", Required = true, HelpName = "FILE" };
        var labels = new Option<string?>("--labels") { Description = "Legend labels, comma-separated, one per metrics file. Default: each run's folder name.", HelpName = "A,B,..." };
        var title = new Option<string?>("--title") { Description = "Plot title.", HelpName = "TEXT" };
        var width = new Option<int>("--width") { Description = "Image width in pixels.", DefaultValueFactory = _ => 1200, HelpName = "PX" }.Positive();
        var height = new Option<int>("--height") { Description = "Image height in pixels.", DefaultValueFactory = _ => 700, HelpName = "PX" }.Positive();
        var command = new Command("plot", "Plot training loss, noise-off training loss and validation loss against steps for one or more runs.");
        command.Arguments.Add(files);
        foreach (var option in new Option[] { output, labels, title, width, height }) command.Options.Add(option);
        context.SetAction(command, r =>
        {
            var outPath = r.GetValue(output)!;
            RequireImagePath(outPath, "--out");
            var paths = r.GetValue(files)!.Select(MetricsPath).ToList();
            var names = ParseLabels(r.GetValue(labels), paths);
            var runs = paths.Select((p, i) => LossCurves.From(names[i], ReadMetrics(p, "METRICS"))).ToList();
            LossPlot.Save(runs, outPath, r.GetValue(title), r.GetValue(width), r.GetValue(height));
            context.Out.WriteLine($"plotted {runs.Count} run{(runs.Count == 1 ? "" : "s")} into {Path.GetFullPath(outPath)}");
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>A usage error unless <paramref name="path"/> names a supported image type.</summary>
    public static void RequireImagePath(string path, string option)
    {
        if (!LossPlot.IsSupported(path))
            throw new CliUsageException($"{option}: cannot write '{Path.GetExtension(path)}' images: {path} (use {string.Join(", ", LossPlot.Extensions)})");
    }

    /// <summary>Reads a metrics file; a missing, unreadable or loss-free file is a usage error naming it.</summary>
    public static MetricsHistory ReadMetrics(string path, string what)
    {
        if (!File.Exists(path)) throw new CliUsageException($"{what}: metrics file not found: {path}");
        MetricsHistory history;
        try { history = MetricsHistory.Read(path); }
        catch (InvalidDataException e) { throw new CliUsageException($"{what}: {e.Message}", e); }
        if (!history.HasLoss) throw new CliUsageException($"{what}: {path} holds no train_loss, train_loss_noise_off or val_loss values");
        return history;
    }

    private static string MetricsPath(string path) => Directory.Exists(path) ? OutputLayout.MetricsPath(path) : path;

    private static IReadOnlyList<string> ParseLabels(string? labels, IReadOnlyList<string> paths)
    {
        if (labels is null) return DefaultLabels(paths);
        var parts = labels.Split(',').Select(l => l.Trim()).ToArray();
        if (parts.Length != paths.Count)
            throw new CliUsageException($"--labels: {parts.Length} label{(parts.Length == 1 ? "" : "s")} for {paths.Count} metrics file{(paths.Count == 1 ? "" : "s")}; give one per file");
        return parts;
    }

    /// <summary>The shortest trailing folder path that tells the runs apart (a file not named metrics.jsonl is named by itself).</summary>
    public static IReadOnlyList<string> DefaultLabels(IReadOnlyList<string> paths)
    {
        var parts = paths.Select(p =>
        {
            var full = Path.GetFullPath(p);
            var segments = full.Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries).ToList();
            if (string.Equals(Path.GetFileName(full), OutputLayout.MetricsFileName, StringComparison.OrdinalIgnoreCase)) segments.RemoveAt(segments.Count - 1);
            else segments[^1] = Path.GetFileNameWithoutExtension(full);
            return segments;
        }).ToList();
        for (int depth = 1; ; depth++)
        {
            var labels = parts.Select(s => string.Join('/', s.Skip(Math.Max(0, s.Count - depth)))).ToList();
            if (labels.Distinct().Count() == labels.Count || depth >= parts.Max(s => s.Count)) return labels;
        }
    }
}
