using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Generation;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.IO.Tokenizers;
using Microsoft.ML.NEFTune.Modeling;
using Microsoft.ML.NEFTune.Noise;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Experiments;

/// <summary>
/// Runs a <see cref="ComparisonOptions"/> comparison: every seed in turn, and for each seed every alpha, so that a
/// partial comparison already pairs all alphas on the first seeds. Each run lives in <c>OUT/alpha-A/seed-S</c> and
/// ends with a <c>result.json</c>; after each run the tables <c>OUT/comparison.md</c> and <c>OUT/comparison.json</c>
/// are rewritten atomically. Running again skips runs with a result, measures runs whose final model exists, resumes
/// interrupted runs from their newest checkpoint and starts the others. <c>OUT/comparison-settings.json</c> records
/// the settings; a folder started with other settings is refused with a <see cref="ComparisonSettingsException"/>.
/// </summary>
public sealed class ComparisonRunner
{
    public const string SettingsFileName = "comparison-settings.json";
    public const string MarkdownFileName = "comparison.md";
    public const string JsonFileName = "comparison.json";

    public ComparisonRunner(ComparisonOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        Runs = options.Seeds.SelectMany(seed => options.Arms.Select(arm =>
            new ComparisonRun(arm.Alpha, seed, Path.Combine(options.OutputDirectory, arm.Kind ?? "", ComparisonRun.FolderName(arm.Alpha), $"seed-{seed}"), arm.Kind))).ToList();
    }

    public ComparisonOptions Options { get; }

    /// <summary>The runs in the order they are done.</summary>
    public IReadOnlyList<ComparisonRun> Runs { get; }

    /// <summary>The result of a run when it has one.</summary>
    public static ComparisonRunResult? TryLoadResult(ComparisonRun run) => File.Exists(run.ResultPath) ? ComparisonRunResult.Load(run.ResultPath) : null;

    /// <summary>Runs (or resumes) the comparison. Cancelling stops the current run at a step boundary with a checkpoint.</summary>
    /// <returns>The tables; <see cref="ComparisonSummary.Complete"/> is false when it was cancelled.</returns>
    public ComparisonSummary Run(ComparisonObserver? observer = null, CancellationToken cancellationToken = default)
    {
        observer ??= new ComparisonObserver();
        Directory.CreateDirectory(Options.OutputDirectory);
        CheckSettings();
        var results = new List<ComparisonRunResult>();
        for (int i = 0; i < Runs.Count; i++)
        {
            if (cancellationToken.IsCancellationRequested) break;
            var run = Runs[i];
            var start = run.Start;
            observer.RunStarting(run, start, i, Runs.Count);
            var result = start == ComparisonRunStart.Done ? ComparisonRunResult.Load(run.ResultPath) : Execute(run, start, observer, cancellationToken);
            if (result is null) break;
            results.Add(result);
            observer.RunFinished(run, result, start, i, Runs.Count);
            if (start != ComparisonRunStart.Done || i == Runs.Count - 1) WriteSummary(results, observer);
        }
        var summary = new ComparisonSummary(Options, results);
        if (results.Count == 0 || !summary.Complete) WriteSummary(results, observer);
        return summary;
    }

    private void WriteSummary(IReadOnlyList<ComparisonRunResult> results, ComparisonObserver observer)
    {
        var summary = new ComparisonSummary(Options, results);
        AtomicFile.WriteAllText(Path.Combine(Options.OutputDirectory, JsonFileName), summary.ToJson());
        AtomicFile.WriteAllText(Path.Combine(Options.OutputDirectory, MarkdownFileName), summary.ToMarkdown());
        observer.SummaryWritten(summary);
    }

    /// <summary>The request of one run: the shared request with the run's alpha, seed and folder.</summary>
    public FineTuningRequest RequestFor(ComparisonRun run) => Options.Request with
    {
        ResumeFrom = null,
        Training = Options.Request.Training with
        {
            Seed = run.Seed,
            Noise = (run.Kind is null ? Options.Request.Training.Noise : Options.Request.Training.Noise.WithKind(Options.NoiseKinds!.First(k => k.Name == run.Kind))) with { Alpha = run.Alpha },
            OutputDirectory = run.Directory,
            MetricsPath = null,
        },
    };

    private ComparisonRunResult? Execute(ComparisonRun run, ComparisonRunStart start, ComparisonObserver observer, CancellationToken cancellationToken)
    {
        var request = RequestFor(run);
        if (start == ComparisonRunStart.EvaluateOnly)
        {
            var tokenizer = FineTuning.LoadTokenizer(run.Directory, null);
            using var model = ModelLoader.Load(run.Directory);
            var prompts = FineTuning.ValidationExamples(request);
            return Finish(run, model, tokenizer, PromptTemplate.Resolve(request.Training.Template, tokenizer), prompts, cancellationToken);
        }

        Directory.CreateDirectory(run.Directory);
        if (start == ComparisonRunStart.Resume) request = request with { ResumeFrom = run.Directory };
        else if (File.Exists(run.MetricsPath)) File.Delete(run.MetricsPath);     // lines of an attempt that never reached a checkpoint

        FineTuningResult tuned;
        try
        {
            tuned = observer.Train(run, progress => FineTuning.Run(request, progress, cancellationToken, observer.Log));
        }
        catch (TrainingDivergedException e)
        {
            var history = File.Exists(run.MetricsPath) ? MetricsHistory.Read(run.MetricsPath) : null;
            var diverged = Losses(run, history) with { Status = ComparisonRunResult.Diverged, Error = e.Message, Steps = e.Step };
            AtomicFile.WriteAllText(run.ResultPath, diverged.ToJson());
            return diverged;
        }
        using (tuned.Model)
        {
            if (tuned.Training.Cancelled) return null;
            return Finish(run, tuned.Model, tuned.Tokenizer, tuned.Template, tuned.ValidationExamples, cancellationToken);
        }
    }

    private ComparisonRunResult? Finish(ComparisonRun run, LlamaForCausalLM model, TextTokenizer tokenizer, PromptTemplate template,
        IReadOnlyList<InstructionExample> validation, CancellationToken cancellationToken)
    {
        var result = Losses(run, MetricsHistory.Read(run.MetricsPath));
        var prompts = validation.Where(e => !e.IsConversation || e.Messages!.Any(m => m.Role == ChatRole.User))
            .Take(Options.GenerateCount).Select(e => template.RenderPrompt(e.WithoutFinalResponse())).ToList();
        if (prompts.Count > 0)
        {
            var generator = new TextGenerator(model, tokenizer);
            var options = Options.Request.Training.Generation;
            var responses = new List<string>();
            foreach (var batch in prompts.Chunk(Options.GenerationBatchSize))
            {
                if (cancellationToken.IsCancellationRequested) return null;
                responses.AddRange(generator.Generate(batch, options));
            }
            var metrics = ResponseMetrics.Compute(responses, tokenizer, Options.DiversityPrefixWords);
            result = result with
            {
                Responses = responses.Count,
                AverageResponseCharacters = ComparisonRunResult.Finite(metrics.AverageCharacters),
                AverageResponseTokens = ComparisonRunResult.Finite(metrics.AverageTokens),
                AverageResponseWords = ComparisonRunResult.Finite(metrics.AverageWords),
                Diversity = ComparisonRunResult.Finite(metrics.Diversity),
                LogDiversity = metrics.DiversityResponseCount > 0 ? ComparisonRunResult.Finite(metrics.LogDiversity) : null,
            };
            AtomicFile.WriteAllText(Path.Combine(run.Directory, "responses.jsonl"),
                string.Concat(prompts.Zip(responses, (p, r) => new JsonObject { ["prompt"] = p, ["response"] = r }.ToJsonString(ComparisonRunResult.Json).ReplaceLineEndings("") + "\n")));
        }
        AtomicFile.WriteAllText(run.ResultPath, result.ToJson());
        if (!Options.KeepCheckpoints)
            foreach (var (_, path) in CheckpointStore.List(run.Directory))
                Directory.Delete(path, recursive: true);
        return result;
    }

    private static ComparisonRunResult Losses(ComparisonRun run, MetricsHistory? history) => new()
    {
        Alpha = run.Alpha,
        Kind = run.Kind,
        Seed = run.Seed,
        Steps = history?.LastStep ?? 0,
        FinalTrainLoss = history?.FinalTrainLoss,
        FinalValidationLoss = history?.FinalValidationLoss,
        BestValidationLoss = history?.BestValidationLoss,
        BestStep = history?.BestStep,
        FinalTrainLossNoiseOff = history?.FinalTrainLossNoiseOff,
    };

    /// <summary>The settings that must stay the same across the runs of one comparison folder (checkpointing and device may change).</summary>
    public JsonObject Settings()
    {
        var r = Options.Request;
        var t = r.Training;
        var training = t with
        {
            Seed = 0, OutputDirectory = null, MetricsPath = null, Device = "", SaveSteps = 0, SaveTotalLimit = 0, Noise = t.Noise with { Alpha = 0 },
            Template = "", MaxLength = 0, Truncation = default, TrainOnPrompt = false, ValidationFraction = 0,   // recorded at the top level
        };
        var settings = new JsonObject
        {
            ["model"] = Path.GetFullPath(r.ModelPath),
            ["tokenizer"] = r.TokenizerPath is null ? null : Path.GetFullPath(r.TokenizerPath),
            ["data"] = new JsonArray(new[] { r.DataPath }.Concat(r.AdditionalDataPaths).Select(p => (JsonNode)Path.GetFullPath(p)).ToArray()),
            ["format"] = r.Format?.ToString(),
            ["template"] = File.Exists(t.Template) ? Path.GetFullPath(t.Template) : t.Template,
            ["val_data"] = r.ValidationDataPath is null ? null : Path.GetFullPath(r.ValidationDataPath),
            ["val_split"] = t.ValidationFraction,
            ["max_length"] = t.MaxLength,
            ["truncation"] = t.Truncation.ToString(),
            ["train_on_prompt"] = t.TrainOnPrompt,
            ["training"] = JsonSerializer.SerializeToNode(training, ComparisonRunResult.Json),
            ["generate"] = Options.GenerateCount,
            ["diversity_prefix_words"] = Options.DiversityPrefixWords,
        };
        if (Options.NoiseKinds is not null)
        {
            settings["noise_kinds"] = new JsonArray(Options.NoiseKinds.Select(k => (JsonNode)k.Name).ToArray());
            var noise = ((JsonObject)settings["training"]!)["noise"]!.AsObject();
            noise.Remove("kind_name");                                                      // each arm sets its own kind
            noise.Remove("distribution");
        }
        return settings;
    }

    private void CheckSettings()
    {
        var path = Path.Combine(Options.OutputDirectory, SettingsFileName);
        var current = (JsonObject)JsonNode.Parse(Settings().ToJsonString())!;
        if (File.Exists(path))
        {
            JsonObject? saved;
            try { saved = JsonNode.Parse(File.ReadAllText(path)) as JsonObject; }
            catch (JsonException) { saved = null; }
            if (saved is null) throw new ComparisonSettingsException($"{path} is not a settings file; delete it or use another output folder");
            var differ = Differences(saved, current, "").ToList();
            if (differ.Count > 0)
                throw new ComparisonSettingsException(
                    $"{Options.OutputDirectory} holds a comparison made with other settings ({string.Join(", ", differ)} differ); give the same options to resume it, or use another --out");
            return;
        }
        AtomicFile.WriteAllText(path, current.ToJsonString(ComparisonRunResult.Json));
    }

    private static IEnumerable<string> Differences(JsonObject saved, JsonObject current, string prefix)
    {
        foreach (var key in saved.Select(p => p.Key).Union(current.Select(p => p.Key)))
        {
            var a = saved[key];
            var b = current[key];
            if (a is JsonObject oa && b is JsonObject ob)
            {
                foreach (var d in Differences(oa, ob, prefix + key + ".")) yield return d;
            }
            else if (!JsonNode.DeepEquals(a, b)) yield return prefix + key;
        }
    }
}

/// <summary>A comparison folder holds runs made with other settings than the ones given.</summary>
public sealed class ComparisonSettingsException : Exception
{
    public ComparisonSettingsException(string message) : base(message) { }
}
