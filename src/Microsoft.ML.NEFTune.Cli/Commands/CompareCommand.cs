using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Microsoft.ML.NEFTune.Cli.Display;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Experiments;
using Microsoft.ML.NEFTune.Noise;
using Microsoft.ML.NEFTune.IO.Tokenizers;
using Microsoft.ML.NEFTune.Modeling;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Cli.Commands;

using Command = System.CommandLine.Command;

/// <summary><c>neftune compare</c>: the same fine-tuning for several noise alphas and seeds, then a table and a plot.</summary>
public static class CompareCommand
{
    public const string PlotFileName = "comparison.png";

    public static Command Create(CliContext context)
    {
        var o = new TrainOptions();
        o.Out.Description = "Comparison folder: OUT/alpha-A/seed-S per run, comparison.md, comparison.json and comparison.png.";
        o.Quiet.Description = "Print only the run headers and the final table (no progress bar or step lines).";
        var alphas = new Option<double[]>("--alphas")
        {
            Description = "NEFTune noise alphas to compare, comma-separated; include 0 for plain fine-tuning, e.g. 0,5,10.",
            Required = true,
            HelpName = "A,B,...",
            CustomParser = r => ParseList<double>(r, "--alphas", s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= 0 && double.IsFinite(v) ? v : null, "a finite number >= 0"),
        };
        var seeds = new Option<long[]>("--seeds")
        {
            Description = "Seeds (data order, split and noise), comma-separated; every alpha runs once per seed.",
            DefaultValueFactory = _ => new long[] { 1, 2, 3 },
            HelpName = "S,T,...",
            CustomParser = r => ParseList<long>(r, "--seeds", s => long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : null, "an integer"),
        };
        var noiseKinds = new Option<string?>("--noise-kinds")
        {
            Description = "Noise kinds to compare, comma-separated (uniform, gaussian or registered kinds); each alpha above 0 runs once per kind in OUT/KIND/alpha-A/seed-S, alpha 0 once. Default: only --noise.",
            HelpName = "K,L,...",
        };
        noiseKinds.Validators.Add(r =>
        {
            if (r.Implicit || r.Errors.Any()) return;
            try { NoiseKindOption.ParseList(r.GetValueOrDefault<string?>() ?? ""); }
            catch (FormatException e) { r.AddError($"--noise-kinds: {e.Message}"); }
        });
        var generate = new Option<int>("--generate") { Description = "Validation prompts each final model answers (greedy, repetition penalty 1.2) for the response length and diversity columns; 0 = none.", DefaultValueFactory = _ => 32, HelpName = "N" }.NonNegative();
        var maxNewTokens = new Option<int>("--max-new-tokens") { Description = "Tokens generated per prompt.", DefaultValueFactory = _ => 256, HelpName = "N" }.Positive();
        var prefixWords = new Option<int?>("--diversity-prefix-words") { Description = "Score diversity on each response's first N words, leaving out shorter ones (the paper uses 50 for Alpaca). Default: whole responses.", HelpName = "N" }.Positive();
        var keepCheckpoints = new Option<bool>("--keep-checkpoints") { Description = "Keep each finished run's checkpoint folders (by default they are deleted once the run's result is written; its final model and best-model/ stay)." };

        var excluded = new Option[] { o.NoiseAlpha, o.Seed, o.Resume, o.Metrics, o.SamplePrompts, o.Plot, o.PrintSettings };
        var command = new Command("compare", "Run the same fine-tuning for each noise alpha and seed, then write a table (mean ± std over seeds) and a plot. Resumable: run it again to continue.");
        command.Options.Add(alphas);
        command.Options.Add(noiseKinds);
        command.Options.Add(seeds);
        foreach (var option in o.All.Where(x => !excluded.Contains(x))) command.Options.Add(option);
        foreach (var option in new Option[] { generate, maxNewTokens, prefixWords, keepCheckpoints }) command.Options.Add(option);
        command.OneOf(false, o.Epochs, o.MaxSteps);
        command.OneOf(false, o.ValData, o.ValSplit);
        command.Validators.Add(r =>
        {
            if (r.GetResult(o.ValData) is null && r.GetResult(o.ValSplit) is not { Implicit: false })
                r.AddError("compare needs validation data: give --val-data FILE or --val-split F");
        });

        context.SetAction(command, r =>
        {
            var request = o.Request(r);
            var outDir = r.GetValue(o.Out)!;
            if (File.Exists(outDir)) throw new CliUsageException($"--out: {outDir} is a file; give a folder");
            CheckInputs(request);
            var options = new ComparisonOptions
            {
                Request = request with { Training = request.Training with { Generation = request.Training.Generation with { MaxNewTokens = r.GetValue(maxNewTokens) } } },
                Alphas = r.GetValue(alphas)!,
                NoiseKinds = r.GetValue(noiseKinds) is string kinds ? NoiseKindOption.ParseList(kinds) : null,
                Seeds = r.GetValue(seeds)!,
                OutputDirectory = outDir,
                GenerateCount = r.GetValue(generate),
                DiversityPrefixWords = r.GetValue(prefixWords),
                GenerationBatchSize = request.Training.BatchSize,
                KeepCheckpoints = r.GetValue(keepCheckpoints),
            };
            if (options.Alphas.Distinct().Count() != options.Alphas.Count) throw new CliUsageException("--alphas: an alpha is given twice");
            if (options.Seeds.Distinct().Count() != options.Seeds.Count) throw new CliUsageException("--seeds: a seed is given twice");
            return Run(context, options, r.GetValue(o.Quiet));
        });
        return command;
    }

    private static int Run(CliContext context, ComparisonOptions options, bool quiet)
    {
        var inv = CultureInfo.InvariantCulture;
        var runner = new ComparisonRunner(options);
        var outDir = Path.GetFullPath(options.OutputDirectory);
        var kinds = options.NoiseKinds is null ? "" : $"noise kinds {string.Join(", ", options.NoiseKinds.Select(k => k.Name))}, ";
        context.Out.WriteLine($"comparison of {runner.Runs.Count} runs ({kinds}alphas {string.Join(", ", options.Alphas.Select(a => a.ToString("R", inv)))} × seeds {string.Join(", ", options.Seeds)}) in {outDir}");
        if (options.Request.Training.SaveSteps == 0)
            context.Out.WriteLine("note: --save-steps is 0, so an interrupted run starts over; give --save-steps N to resume runs from checkpoints");

        using var cancel = new CliCancellation(context.Error, CliCancellation.TrainingNotice);
        var observer = new Observer(context, options, quiet);
        ComparisonSummary summary;
        try
        {
            summary = runner.Run(observer, cancel.Token);
        }
        catch (ComparisonSettingsException e)
        {
            throw new CliUsageException("--out: " + e.Message, e);
        }

        context.Out.WriteLine();
        context.Out.Write(RowsTable(summary));
        context.Out.WriteLine();
        context.Out.WriteLine($"table: {Path.Combine(outDir, ComparisonRunner.MarkdownFileName)}, {Path.Combine(outDir, ComparisonRunner.JsonFileName)}; plot: {Path.Combine(outDir, PlotFileName)}");
        int diverged = summary.Results.Count(x => !x.IsFinished);
        if (diverged > 0) context.Out.WriteLine($"warning: {diverged} run{(diverged == 1 ? "" : "s")} diverged (see the table); a lower --lr or alpha may help");
        if (!summary.Complete)
        {
            CliErrors.Write(context.Error, $"interrupted after {summary.Results.Count} of {summary.PlannedRuns} runs; run the same command again to resume");
            return ExitCodes.RuntimeFailure;
        }
        return ExitCodes.Success;
    }

    /// <summary>The per-alpha table of the markdown summary.</summary>
    private static string RowsTable(ComparisonSummary summary)
    {
        var lines = summary.ToMarkdown().Split('\n');
        return string.Concat(lines.SkipWhile(l => !l.StartsWith('|')).TakeWhile(l => l.StartsWith('|')).Select(l => l + "\n"));
    }

    /// <summary>Plots the mean loss curves of each alpha over its seeds.</summary>
    public static void SavePlot(ComparisonOptions options, string path)
    {
        var curves = new List<LossCurves>();
        int seedCount = 0;
        foreach (var (kind, alpha) in options.Arms)
        {
            var histories = options.Seeds
                .Select(seed => Path.Combine(options.OutputDirectory, kind ?? "", ComparisonRun.FolderName(alpha), $"seed-{seed}", OutputLayout.MetricsFileName))
                .Where(File.Exists).Select(MetricsHistory.Read).Where(h => h.HasLoss).ToList();
            if (histories.Count == 0) continue;
            var label = $"{(kind is null ? "" : kind + " ")}alpha {alpha.ToString("R", CultureInfo.InvariantCulture)}";
            seedCount = Math.Max(seedCount, histories.Count);
            curves.Add(new LossCurves(label,
                MetricsHistory.MeanCurve(histories.Select(h => h.TrainLoss).ToList()),
                MetricsHistory.MeanCurve(histories.Select(h => h.TrainLossNoiseOff).ToList()),
                MetricsHistory.MeanCurve(histories.Select(h => h.ValidationLoss).ToList())));
        }
        if (curves.Count > 0) LossPlot.Save(curves, path, "NEFTune comparison: loss by noise alpha" + (seedCount > 1 ? $" (mean over {seedCount} seeds)" : ""));
    }

    private static void CheckInputs(FineTuningRequest request)
    {
        try
        {
            var tokenizer = FineTuning.LoadTokenizer(request.ModelPath, request.TokenizerPath);
            PromptTemplate.Resolve(request.Training.Template, tokenizer);
            var config = ModelConfig(request.ModelPath);
            if (config is not null && tokenizer.VocabularyMismatch(config.VocabSize) is { } mismatch) throw new CliUsageException($"--tokenizer: {mismatch}");
        }
        catch (Exception e) when (e is ArgumentException or TokenizerFormatException or ModelFormatException or FileNotFoundException)
        {
            throw new CliUsageException(e.Message, e);
        }
    }

    private static LlamaConfig? ModelConfig(string modelPath)
    {
        var dir = CliInputs.ModelDirectory(modelPath);
        return dir is not null && File.Exists(Path.Combine(dir, "config.json")) ? LlamaConfig.Load(Path.Combine(dir, "config.json")) : null;
    }

    private static T[] ParseList<T>(ArgumentResult result, string name, Func<string, T?> parse, string what) where T : struct
    {
        var parts = result.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray();
        if (parts.Length == 0)
        {
            result.AddError($"{name} needs at least one value, e.g. {name} 0,5");
            return Array.Empty<T>();
        }
        var values = new T[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (parse(parts[i]) is not T v)
            {
                result.AddError($"{name}: '{parts[i]}' is not {what}");
                return Array.Empty<T>();
            }
            values[i] = v;
        }
        return values;
    }

    private sealed class Observer(CliContext context, ComparisonOptions options, bool quiet) : ComparisonObserver
    {
        private readonly System.Diagnostics.Stopwatch clock = new();
        private TrainingDisplay? display;

        private static string Head(ComparisonRun run, int index, int count) =>
            string.Format(CultureInfo.InvariantCulture, "[{0}/{1}] {4}alpha {2}, seed {3}", index + 1, count, run.Alpha.ToString("R", CultureInfo.InvariantCulture), run.Seed, run.Kind is null ? "" : run.Kind + " ");

        public override void Log(string message)
        {
            if (quiet) return;
            if (display is not null) display.WriteLine(message);
            else context.Out.WriteLine(message);
        }

        public override void RunStarting(ComparisonRun run, ComparisonRunStart start, int index, int count)
        {
            clock.Restart();
            var what = start switch
            {
                ComparisonRunStart.Done => null,
                ComparisonRunStart.EvaluateOnly => "trained earlier; generating responses",
                ComparisonRunStart.Resume => $"resuming from {Path.GetFileName(run.LatestCheckpoint)}",
                _ => "training",
            };
            if (what is not null) context.Out.WriteLine($"{Head(run, index, count)}: {what} ({run.Directory})");
        }

        public override FineTuningResult Train(ComparisonRun run, Func<IProgress<TrainingProgress>?, FineTuningResult> train)
        {
            var training = options.Request.Training;
            display = TrainingDisplay.Create(context.Out, quiet, training.MaxSteps is null ? training.Epochs : null);
            try
            {
                var d = display;
                return d.Run(() => train(d));
            }
            finally { display = null; }
        }

        public override void RunFinished(ComparisonRun run, ComparisonRunResult result, ComparisonRunStart start, int index, int count)
        {
            var inv = CultureInfo.InvariantCulture;
            var text = string.Format(inv, "val loss {0} (best {1}), noise-off train loss {2}",
                TrainingDisplay.Fmt(result.FinalValidationLoss), TrainingDisplay.Fmt(result.BestValidationLoss), TrainingDisplay.Fmt(result.FinalTrainLossNoiseOff));
            if (result.Responses > 0)
                text += string.Format(inv, ", responses {0:F1} chars / {1:F1} words, diversity {2}", result.AverageResponseCharacters, result.AverageResponseWords,
                    result.Diversity is double d ? d.ToString("F4", inv) : "-");
            var status = start == ComparisonRunStart.Done ? "done earlier"
                : result.IsFinished ? $"done in {clock.Elapsed:hh\\:mm\\:ss}"
                : $"diverged at step {result.Steps}";
            context.Out.WriteLine($"{Head(run, index, count)}: {status}: {text}");
        }

        public override void SummaryWritten(ComparisonSummary summary) => SavePlot(options, Path.Combine(options.OutputDirectory, PlotFileName));
    }
}
