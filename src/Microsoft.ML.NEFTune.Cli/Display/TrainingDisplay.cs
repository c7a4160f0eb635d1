using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Generation;
using Microsoft.ML.NEFTune.Training;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Microsoft.ML.NEFTune.Cli.Display;

/// <summary>
/// Shows training progress: at a terminal, a live progress bar per epoch with loss, learning rate, tokens/s and ETA
/// (evaluations and notes scroll above the bars); elsewhere one plain line per logged step and evaluation. Quiet shows
/// neither.
/// </summary>
public sealed class TrainingDisplay : IProgress<TrainingProgress>
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private readonly TextWriter output;
    private readonly IAnsiConsole? console;
    private readonly int? epochs;
    private readonly List<ProgressTask> epochTasks = new();
    private readonly StatsColumn stats = new();
    private ProgressContext? context;
    private string lastStats = "";

    private TrainingDisplay(TextWriter output, bool quiet, IAnsiConsole? console, int? epochs)
    {
        this.output = output;
        Quiet = quiet;
        this.console = console;
        this.epochs = epochs;
    }

    /// <summary>A live display when <paramref name="output"/> is a terminal (and not quiet), else plain lines.</summary>
    /// <param name="epochs">Epochs of the run when known (null with a step limit).</param>
    public static TrainingDisplay Create(TextWriter output, bool quiet, int? epochs = null) =>
        new(output, quiet, !quiet && Terminal.IsInteractive(output) ? Terminal.Console() : null, epochs);

    /// <summary>A live display on <paramref name="console"/>.</summary>
    public static TrainingDisplay Live(IAnsiConsole console, int? epochs = null) => new(TextWriter.Null, false, console, epochs);

    public bool Quiet { get; }
    public bool IsLive => console is not null;

    /// <summary>Writes a line (above the bars while they are live).</summary>
    public void WriteLine(string line)
    {
        if (console is not null) console.WriteLine(line);
        else output.WriteLine(line);
    }

    /// <summary>Writes a note unless quiet.</summary>
    public void Note(string line)
    {
        if (!Quiet) WriteLine(line);
    }

    /// <summary>Runs <paramref name="work"/> with the bars live (plainly when not a terminal).</summary>
    public T Run<T>(Func<T> work)
    {
        if (console is null) return work();
        T result = default!;
        console.Progress()
            .AutoClear(false)
            .AutoRefresh(true)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), stats)
            .Start(ctx =>
            {
                context = ctx;
                try { result = work(); }
                finally
                {
                    foreach (var task in epochTasks) task.StopTask();
                    context = null;
                }
            });
        return result;
    }

    public void Report(TrainingProgress p)
    {
        if (Quiet) return;
        if (p.IsEvaluation)
        {
            WriteLine(string.Format(Inv, "eval  step {0,6}/{1} | epoch {2:F2} | val loss {3} | noise-off train loss {4}",
                p.Step, p.TotalSteps, p.Epoch, Fmt(p.ValidationLoss), Fmt(p.TrainLossNoiseOff)));
            return;
        }
        if (context is null)
        {
            WriteLine(string.Format(Inv, "train step {0,6}/{1} | epoch {2:F2} | loss {3} | lr {4:E2} | grad norm {5:F2} | {6:F0} tok/s | eta {7}",
                p.Step, p.TotalSteps, p.Epoch, Fmt(p.TrainLoss), p.LearningRate, p.GradNorm, p.TokensPerSecond, Eta(p.Eta)));
            return;
        }
        int index = Math.Max(0, (int)Math.Ceiling(p.Epoch - 1e-9) - 1);
        int total = epochs ?? (p.Step > 0 && p.Epoch > 0 ? Math.Max(index + 1, (int)Math.Ceiling(p.TotalSteps * p.Epoch / p.Step - 1e-6)) : index + 1);
        while (epochTasks.Count <= index)
        {
            if (epochTasks.Count > 0)
            {
                var done = epochTasks[^1];
                done.Value = done.MaxValue;
                done.StopTask();
                stats.Set(done.Id, lastStats);
            }
            epochTasks.Add(context.AddTask($"epoch {epochTasks.Count + 1}/{total}", maxValue: 100));
        }
        var task = epochTasks[index];
        task.Description = $"epoch {index + 1}/{total}";
        task.Value = Math.Clamp((p.Epoch - index) * 100, 0, 100);
        lastStats = string.Format(Inv, "step {0}/{1} · loss {2} · lr {3:0.00e+00} · {4:N0} tok/s", p.Step, p.TotalSteps, Fmt(p.TrainLoss), p.LearningRate, p.TokensPerSecond);
        stats.Set(task.Id, lastStats + " · eta " + Eta(p.Eta));
    }

    /// <summary>Greedy generations (repetition penalty 1.2) for the first validation (or training) prompts.</summary>
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
            WriteLine($"--- sample {i + 1} ({when} training) ---");
            WriteLine($"instruction: {Shorten(chosen[i].Instruction ?? chosen[i].ToMessages().LastOrDefault(m => m.Role == ChatRole.User)?.Content)}");
            WriteLine($"response:    {Shorten(texts[i])}");
        }
    }

    public static string Fmt(double? v) => v is double d ? d.ToString("F4", Inv) : "-";

    private static string Eta(TimeSpan? eta) => eta is TimeSpan t && t >= TimeSpan.Zero
        ? (t.TotalHours >= 24 ? $"{(int)t.TotalDays}d " : "") + t.ToString(@"hh\:mm\:ss", Inv)
        : "--:--:--";

    private static string Shorten(string? text)
    {
        text = (text ?? "").ReplaceLineEndings(" ").Trim();
        return text.Length > 200 ? text[..200] + "…" : text;
    }

    private sealed class StatsColumn : ProgressColumn
    {
        private readonly ConcurrentDictionary<int, string> text = new();

        public void Set(int task, string value) => text[task] = value;

        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(text.TryGetValue(task.Id, out var t) ? t : "");
    }
}
