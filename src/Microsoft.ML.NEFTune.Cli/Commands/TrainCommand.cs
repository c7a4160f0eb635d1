using System.CommandLine;
using System.Globalization;
using Microsoft.ML.NEFTune.Cli.Display;
using Microsoft.ML.NEFTune.Experiments;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Cli.Commands;

using Command = System.CommandLine.Command;

/// <summary><c>neftune train</c>: fine-tune with NEFTune noisy embeddings and save the model in the Hugging Face layout.</summary>
public static class TrainCommand
{
    public static Command Create(CliContext context)
    {
        var o = new TrainOptions();
        var command = new Command("train", "Fine-tune a model on instruction data (or plain text) with NEFTune noisy embeddings.");
        foreach (var option in o.All) command.Options.Add(option);
        o.Lora.AddTo(command);
        command.OneOf(false, o.Epochs, o.MaxSteps);
        command.OneOf(false, o.ValData, o.ValSplit);
        context.SetAction(command, r => Run(context, o, r));
        return command;
    }

    private static int Run(CliContext context, TrainOptions o, ParseResult r)
    {
        var request = o.Request(r);
        if (r.GetValue(o.PrintSettings))
        {
            context.Out.WriteLine(request.Training.ToJson());
            return ExitCodes.Success;
        }
        var plot = r.GetValue(o.Plot);
        if (plot is not null) PlotCommand.RequireImagePath(plot, "--plot");
        var inv = CultureInfo.InvariantCulture;
        bool quiet = r.GetValue(o.Quiet);
        int samples = r.GetValue(o.SamplePrompts);
        using var cancel = new CliCancellation(context.Error, CliCancellation.TrainingNotice);
        var display = TrainingDisplay.Create(context.Out, quiet, request.Training.MaxSteps is null ? request.Training.Epochs : null);
        var result = display.Run(() => FineTuning.Run(request, display, cancel.Token, quiet ? null : display.WriteLine,
            before: samples > 0 ? run => display.Samples("before", run, samples) : null));
        using var model = result.Model;
        if (samples > 0) display.Samples("after", result, samples);
        var t = result.Training;
        var outDir = Path.GetFullPath(request.Training.OutputDirectory!);
        var saved = request.Training.Lora is not { } lora ? $"model in {outDir}"
            : lora.SaveMergedModel ? $"LoRA adapter in {outDir}, merged model in {OutputLayout.MergedModelDirectory(outDir)}" : $"LoRA adapter in {outDir}";
        context.Out.WriteLine(string.Format(inv, "{0} after {1} steps: train loss {2}, validation loss {3} (best {4} at step {5}), noise-off train loss {6}; {7}",
            t.Cancelled ? "cancelled" : t.StoppedEarly ? "stopped early" : "done", t.Steps, Fmt(t.FinalTrainLoss), Fmt(t.FinalValidationLoss),
            Fmt(t.BestValidationLoss), t.BestStep?.ToString(inv) ?? "-", Fmt(t.FinalTrainLossNoiseOff), saved));
        if (plot is not null)
        {
            var metrics = OutputLayout.MetricsPath(request.Training)!;
            LossPlot.Save(new[] { LossCurves.From(Path.GetFileName(Path.GetFullPath(request.Training.OutputDirectory!)), MetricsHistory.Read(metrics)) }, plot);
            context.Out.WriteLine($"loss curves in {Path.GetFullPath(plot)}");
        }
        return t.Cancelled ? ExitCodes.RuntimeFailure : ExitCodes.Success;
    }

    internal static string Fmt(double? v) => v is double d ? d.ToString("F4", CultureInfo.InvariantCulture) : "-";
}
