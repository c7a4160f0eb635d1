using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Microsoft.ML.NEFTune.Experiments;

/// <summary>One alpha of a comparison: mean ± standard deviation over its finished seeds.</summary>
public sealed record ComparisonRow
{
    public double Alpha { get; init; }

    /// <summary>The noise kind of this row when the comparison names kinds; null for alpha 0 and for single-kind comparisons.</summary>
    public string? Kind { get; init; }

    /// <summary>Finished runs (seeds) summarised in this row.</summary>
    public int Runs { get; init; }

    /// <summary>Runs of this alpha that diverged (left out of the means).</summary>
    public int Diverged { get; init; }

    public MeanStd? FinalValidationLoss { get; init; }
    public MeanStd? BestValidationLoss { get; init; }
    public MeanStd? FinalTrainLossNoiseOff { get; init; }
    public MeanStd? FinalTrainLoss { get; init; }
    public MeanStd? ResponseCharacters { get; init; }
    public MeanStd? ResponseTokens { get; init; }
    public MeanStd? ResponseWords { get; init; }
    public MeanStd? Diversity { get; init; }
    public MeanStd? LogDiversity { get; init; }
}

/// <summary>The table of a comparison: one row per alpha, and every run's own result.</summary>
public sealed class ComparisonSummary
{
    public ComparisonSummary(ComparisonOptions options, IReadOnlyList<ComparisonRunResult> results)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(results);
        Options = options;
        var arms = options.Arms.ToList();
        Results = results.OrderBy(r => arms.IndexOf((r.Kind, r.Alpha))).ThenBy(r => options.Seeds.ToList().IndexOf(r.Seed)).ToList();
        Rows = arms.Select(arm =>
        {
            var runs = Results.Where(r => r.Alpha == arm.Alpha && r.Kind == arm.Kind).ToList();
            var ok = runs.Where(r => r.IsFinished).ToList();
            return new ComparisonRow
            {
                Alpha = arm.Alpha,
                Kind = arm.Kind,
                Runs = ok.Count,
                Diverged = runs.Count - ok.Count,
                FinalValidationLoss = MeanStd.Of(ok.Select(r => r.FinalValidationLoss)),
                BestValidationLoss = MeanStd.Of(ok.Select(r => r.BestValidationLoss)),
                FinalTrainLossNoiseOff = MeanStd.Of(ok.Select(r => r.FinalTrainLossNoiseOff)),
                FinalTrainLoss = MeanStd.Of(ok.Select(r => r.FinalTrainLoss)),
                ResponseCharacters = MeanStd.Of(ok.Select(r => r.AverageResponseCharacters)),
                ResponseTokens = MeanStd.Of(ok.Select(r => r.AverageResponseTokens)),
                ResponseWords = MeanStd.Of(ok.Select(r => r.AverageResponseWords)),
                Diversity = MeanStd.Of(ok.Select(r => r.Diversity)),
                LogDiversity = MeanStd.Of(ok.Select(r => r.LogDiversity)),
            };
        }).ToList();
    }

    public ComparisonOptions Options { get; }
    private Generation.GenerationOptions Generation => Options.Request.Training.Generation;
    public IReadOnlyList<ComparisonRow> Rows { get; }
    public IReadOnlyList<ComparisonRunResult> Results { get; }

    /// <summary>Runs the options ask for (alphas × seeds).</summary>
    public int PlannedRuns => Options.Arms.Count * Options.Seeds.Count;

    /// <summary>True when every planned run has a result.</summary>
    public bool Complete => Results.Count == PlannedRuns;

    public string ToMarkdown()
    {
        var inv = CultureInfo.InvariantCulture;
        var md = new StringBuilder();
        md.Append("# NEFTune comparison\n\n");
        md.Append($"Mean ± sample standard deviation over seeds {string.Join(", ", Options.Seeds.Select(s => s.ToString(inv)))}; ");
        md.Append($"{Results.Count} of {PlannedRuns} runs done{(Complete ? "" : " (incomplete: rerun the same command to finish)")}. ");
        md.Append("Losses are per-token cross-entropy with noise off; lower is better.\n\n");
        bool kinds = Options.NoiseKinds is not null;
        md.Append($"| {(kinds ? "noise | " : "")}alpha | runs | final val loss | best val loss | noise-off train loss | response chars | response tokens | response words | diversity |\n");
        md.Append($"| {(kinds ? "--- | " : "")}---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        foreach (var row in Rows)
        {
            var runs = row.Runs.ToString(inv) + (row.Diverged > 0 ? $" ({row.Diverged} diverged)" : "");
            md.Append($"| {(kinds ? Noise(row.Kind, row.Alpha) + " | " : "")}{Alpha(row.Alpha)} | {runs} | {Cell(row.FinalValidationLoss, "F4")} | {Cell(row.BestValidationLoss, "F4")} | {Cell(row.FinalTrainLossNoiseOff, "F4")} | ");
            md.Append($"{Cell(row.ResponseCharacters, "F1")} | {Cell(row.ResponseTokens, "F1")} | {Cell(row.ResponseWords, "F1")} | {Cell(row.Diversity, "F4")} |\n");
        }
        md.Append('\n');
        md.Append(Options.GenerateCount > 0
            ? $"Responses: the final model of each run answers the first {Options.GenerateCount} validation prompts with {Decoding(Generation)}, repetition penalty {Generation.RepetitionPenalty.ToString(inv)}, at most {Generation.MaxNewTokens} new tokens. " +
              "Diversity is Π(1 − rep-n) for n = 2, 3, 4" + (Options.DiversityPrefixWords is int p ? $", over each response's first {p} words (shorter responses left out)" : " over whole responses") + ".\n"
            : "No responses were generated (--generate 0).\n");
        md.Append("\n## Runs\n\n");
        md.Append($"| {(kinds ? "noise | " : "")}alpha | seed | status | steps | final val loss | best val loss (step) | noise-off train loss | final train loss | response chars | response tokens | response words | diversity |\n");
        md.Append($"| {(kinds ? "--- | " : "")}---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        foreach (var r in Results)
        {
            var best = r.BestValidationLoss is double b ? $"{b.ToString("F4", inv)} ({r.BestStep?.ToString(inv)})" : "–";
            md.Append($"| {(kinds ? Noise(r.Kind, r.Alpha) + " | " : "")}{Alpha(r.Alpha)} | {r.Seed.ToString(inv)} | {r.Status} | {r.Steps.ToString(inv)} | {Num(r.FinalValidationLoss, "F4")} | {best} | {Num(r.FinalTrainLossNoiseOff, "F4")} | {Num(r.FinalTrainLoss, "F4")} | ");
            md.Append($"{Num(r.AverageResponseCharacters, "F1")} | {Num(r.AverageResponseTokens, "F1")} | {Num(r.AverageResponseWords, "F1")} | {Num(r.Diversity, "F4")} |\n");
        }
        return md.ToString();
    }

    public string ToJson()
    {
        var rows = new JsonArray(Rows.Select(row => (JsonNode)new JsonObject
        {
            ["alpha"] = row.Alpha,
            ["noise"] = Options.NoiseKinds is null ? null : Noise(row.Kind, row.Alpha),
            ["runs"] = row.Runs,
            ["diverged"] = row.Diverged,
            ["final_val_loss"] = Stat(row.FinalValidationLoss),
            ["best_val_loss"] = Stat(row.BestValidationLoss),
            ["final_train_loss_noise_off"] = Stat(row.FinalTrainLossNoiseOff),
            ["final_train_loss"] = Stat(row.FinalTrainLoss),
            ["avg_response_chars"] = Stat(row.ResponseCharacters),
            ["avg_response_tokens"] = Stat(row.ResponseTokens),
            ["avg_response_words"] = Stat(row.ResponseWords),
            ["diversity"] = Stat(row.Diversity),
            ["log_diversity"] = Stat(row.LogDiversity),
        }).ToArray());
        var json = new JsonObject
        {
            ["alphas"] = new JsonArray(Options.Alphas.Select(a => (JsonNode)a).ToArray()),
            ["noise_kinds"] = Options.NoiseKinds is null ? null : new JsonArray(Options.NoiseKinds.Select(k => (JsonNode)k.Name).ToArray()),
            ["seeds"] = new JsonArray(Options.Seeds.Select(s => (JsonNode)s).ToArray()),
            ["runs_planned"] = PlannedRuns,
            ["runs_done"] = Results.Count,
            ["complete"] = Complete,
            ["generation"] = new JsonObject
            {
                ["prompts"] = Options.GenerateCount,
                ["max_new_tokens"] = Generation.MaxNewTokens,
                ["repetition_penalty"] = Generation.RepetitionPenalty,
                ["decoding"] = Decoding(Generation),
                ["diversity_prefix_words"] = Options.DiversityPrefixWords,
            },
            ["rows"] = rows,
            ["runs"] = new JsonArray(Results.Select(r => JsonSerializer.SerializeToNode(r, ComparisonRunResult.Json)).ToArray()),
        };
        return json.ToJsonString(ComparisonRunResult.Json);
    }

    private static JsonNode? Stat(MeanStd? value) => value is MeanStd v
        ? new JsonObject { ["mean"] = v.Mean, ["std"] = v.Std, ["n"] = v.Count }
        : null;

    private static string Cell(MeanStd? value, string format) => value is MeanStd v ? v.ToString(format) : "–";

    private static string Num(double? value, string format) => value is double d ? d.ToString(format, CultureInfo.InvariantCulture) : "–";

    /// <summary>The noise column: <c>none</c> for alpha 0, else the run's kind.</summary>
    internal static string Noise(string? kind, double alpha) => alpha == 0 ? "none" : kind ?? "–";

    internal static string Alpha(double alpha) => alpha.ToString("R", CultureInfo.InvariantCulture);

    private static string Decoding(Generation.GenerationOptions g) =>
        g.Temperature == 0 ? "greedy decoding" : string.Format(CultureInfo.InvariantCulture, "sampling at temperature {0} (seed {1})", g.Temperature, g.Seed);
}
