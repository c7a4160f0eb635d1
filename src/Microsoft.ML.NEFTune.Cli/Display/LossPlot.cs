using Microsoft.ML.NEFTune.Experiments;
using ScottPlot;
using Microsoft.ML.NEFTune.IO;

namespace Microsoft.ML.NEFTune.Cli.Display;

/// <summary>The loss curves of one run (or the mean of several) under a legend label.</summary>
public sealed record LossCurves(string Label, IReadOnlyList<MetricPoint> TrainLoss, IReadOnlyList<MetricPoint> TrainLossNoiseOff, IReadOnlyList<MetricPoint> ValidationLoss)
{
    public static LossCurves From(string label, MetricsHistory history) => new(label, history.TrainLoss, history.TrainLossNoiseOff, history.ValidationLoss);

    public bool IsEmpty => TrainLoss.Count + TrainLossNoiseOff.Count + ValidationLoss.Count == 0;
}

/// <summary>
/// Draws training loss (with noise), noise-off training loss and validation loss against steps. One run: a colour per
/// curve. Several runs: a colour per run, and a line style per curve (thin: training loss; dashed: noise-off
/// training loss; thick with dots: validation loss), with a legend beside the plot.
/// </summary>
public static class LossPlot
{
    /// <summary>Image formats by file extension.</summary>
    public static readonly IReadOnlyList<string> Extensions = new[] { ".png", ".svg", ".jpg", ".jpeg" };

    public static bool IsSupported(string path) => Extensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    /// <summary>Renders <paramref name="runs"/> and writes the image atomically to <paramref name="path"/> (format from its extension).</summary>
    public static void Save(IReadOnlyList<LossCurves> runs, string path, string? title = null, int width = 1200, int height = 700)
    {
        ArgumentNullException.ThrowIfNull(runs);
        if (!IsSupported(path)) throw new ArgumentException($"unsupported image type '{Path.GetExtension(path)}' (use {string.Join(", ", Extensions)})", nameof(path));
        var plot = Build(runs, title);
        var extension = Path.GetExtension(path).ToLowerInvariant();
        if (extension == ".svg")
        {
            AtomicFile.WriteAllText(path, plot.GetSvgXml(width, height));
            return;
        }
        var format = extension == ".png" ? ImageFormat.Png : ImageFormat.Jpeg;
        var bytes = plot.GetImage(width, height).GetImageBytes(format);
        AtomicFile.Write(path, s => s.Write(bytes));
    }

    public static Plot Build(IReadOnlyList<LossCurves> runs, string? title)
    {
        var plot = new Plot();
        plot.Font.Set("DejaVu Sans");
        bool single = runs.Count == 1;
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < runs.Count; i++)
        {
            var run = runs[i];
            string Label(string curve, string shortName) => single ? curve : $"{run.Label}: {shortName}";
            var runColor = palette.GetColor(i);
            if (run.TrainLoss.Count > 0)
            {
                var color = single ? palette.GetColor(0) : runColor;
                var line = Add(plot, run.TrainLoss, Label("training loss (noise on)", "train"), color.WithAlpha(single ? 0.8 : 0.55), width: 1.5f, markers: run.TrainLoss.Count == 1 ? 5 : 0);
                line.LinePattern = LinePattern.Solid;
            }
            if (run.TrainLossNoiseOff.Count > 0)
            {
                var line = Add(plot, run.TrainLossNoiseOff, Label("training loss (noise off)", "train, noise off"), single ? palette.GetColor(2) : runColor, width: 2f, markers: 5);
                line.LinePattern = LinePattern.Dashed;
                line.MarkerShape = MarkerShape.OpenSquare;
            }
            if (run.ValidationLoss.Count > 0)
            {
                var line = Add(plot, run.ValidationLoss, Label("validation loss", "validation"), single ? palette.GetColor(1) : runColor, width: 3f, markers: 7);
                line.MarkerShape = MarkerShape.FilledCircle;
            }
        }
        plot.Title(title ?? (single && runs[0].Label.Length > 0 ? $"Loss curves: {runs[0].Label}" : "Loss curves"));
        plot.XLabel("optimizer step");
        plot.YLabel("loss (cross-entropy per token)");
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.Axes.Title.Label.FontSize = 20;
        plot.Axes.Bottom.Label.FontSize = 16;
        plot.Axes.Left.Label.FontSize = 16;
        plot.Axes.Bottom.TickLabelStyle.FontSize = 13;
        plot.Axes.Left.TickLabelStyle.FontSize = 13;
        plot.Legend.FontSize = 13;
        if (single) plot.ShowLegend(Alignment.UpperRight);
        else plot.ShowLegend(Edge.Right);
        plot.Axes.Margins(0.02, 0.08);
        return plot;
    }

    private static ScottPlot.Plottables.Scatter Add(Plot plot, IReadOnlyList<MetricPoint> points, string label, Color color, float width, float markers)
    {
        var line = plot.Add.Scatter(points.Select(p => (double)p.Step).ToArray(), points.Select(p => p.Value).ToArray(), color);
        line.LegendText = label;
        line.LineWidth = width;
        line.MarkerSize = markers;
        return line;
    }
}
