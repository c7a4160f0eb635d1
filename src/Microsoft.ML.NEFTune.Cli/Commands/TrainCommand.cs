using System.CommandLine;
using System.Globalization;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Generation;
using Microsoft.ML.NEFTune.Noise;
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
        command.OneOf(false, o.Epochs, o.MaxSteps);
        command.OneOf(false, o.ValData, o.ValSplit);
        context.SetAction(command, r => Run(context, o, r));
        return command;
    }

    private static int Run(CliContext context, TrainOptions o, ParseResult r)
    {
        var request = o.Request(r);
        var inv = CultureInfo.InvariantCulture;
        bool quiet = r.GetValue(o.Quiet);
        int samples = r.GetValue(o.SamplePrompts);
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); context.Error.WriteLine("cancelling: finishing the current step and writing a checkpoint…"); };
        Console.CancelKeyPress += onCancel;
        try
        {
            var progress = new TrainingConsole(context.Out, quiet);
            var result = FineTuning.Run(request, progress, cancel.Token, quiet ? null : context.Out.WriteLine,
                before: samples > 0 ? run => progress.Samples("before", run, samples) : null);
            using var model = result.Model;
            if (samples > 0) progress.Samples("after", result, samples);
            var t = result.Training;
            context.Out.WriteLine(string.Format(inv, "{0} after {1} steps: train loss {2}, validation loss {3} (best {4} at step {5}), noise-off train loss {6}; model in {7}",
                t.Cancelled ? "cancelled" : t.StoppedEarly ? "stopped early" : "done", t.Steps, Fmt(t.FinalTrainLoss), Fmt(t.FinalValidationLoss),
                Fmt(t.BestValidationLoss), t.BestStep?.ToString(inv) ?? "-", Fmt(t.FinalTrainLossNoiseOff), Path.GetFullPath(request.Training.OutputDirectory!)));
            return t.Cancelled ? ExitCodes.RuntimeFailure : ExitCodes.Success;
        }
        finally { Console.CancelKeyPress -= onCancel; }
    }

    internal static string Fmt(double? v) => v is double d ? d.ToString("F4", CultureInfo.InvariantCulture) : "-";
}

/// <summary>Prints one line per logged step and evaluation, and sample generations.</summary>
internal sealed class TrainingConsole(TextWriter output, bool quiet) : IProgress<TrainingProgress>
{
    public void Report(TrainingProgress p)
    {
        if (quiet) return;
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine(p.IsEvaluation
            ? string.Format(inv, "eval  step {0,6}/{1} | epoch {2:F2} | val loss {3} | noise-off train loss {4}", p.Step, p.TotalSteps, p.Epoch, TrainCommand.Fmt(p.ValidationLoss), TrainCommand.Fmt(p.TrainLossNoiseOff))
            : string.Format(inv, "train step {0,6}/{1} | epoch {2:F2} | loss {3} | lr {4:E2} | grad norm {5:F2} | {6:F0} tok/s | eta {7:hh\\:mm\\:ss}",
                p.Step, p.TotalSteps, p.Epoch, TrainCommand.Fmt(p.TrainLoss), p.LearningRate, p.GradNorm, p.TokensPerSecond, p.Eta ?? TimeSpan.Zero));
    }

    public void Samples(string when, FineTuningResult run, int count)
    {
        var prompts = run.ValidationExamples.Count > 0 ? run.ValidationExamples : run.TrainExamples;
        var chosen = prompts.Where(e => !e.IsConversation || e.Messages!.Count > 0).Take(count).ToList();
        if (chosen.Count == 0) return;
        var generator = new TextGenerator(run.Model, run.Tokenizer);
        var texts = generator.Generate(chosen.Select(e => run.Template.RenderPrompt(e.WithoutFinalResponse())).ToList(),
            new GenerationOptions { MaxNewTokens = 64, RepetitionPenalty = 1.2 });
        for (int i = 0; i < chosen.Count; i++)
        {
            output.WriteLine($"--- sample {i + 1} ({when} training) ---");
            output.WriteLine($"instruction: {Shorten(chosen[i].Instruction ?? chosen[i].ToMessages().LastOrDefault(m => m.Role == ChatRole.User)?.Content)}");
            output.WriteLine($"response:    {Shorten(texts[i])}");
        }
    }

    private static string Shorten(string? text)
    {
        text = (text ?? "").ReplaceLineEndings(" ").Trim();
        return text.Length > 200 ? text[..200] + "…" : text;
    }
}
