using System.CommandLine;
using System.CommandLine.Parsing;
using Microsoft.ML.NEFTune.Lora;
using Microsoft.ML.NEFTune.Quantization;

namespace Microsoft.ML.NEFTune.Cli;

using Command = System.CommandLine.Command;

/// <summary>
/// The LoRA / QLoRA options of a training command: <c>--lora-rank R</c> turns LoRA on; <c>--lora-alpha</c>,
/// <c>--lora-dropout</c>, <c>--lora-targets</c>, <c>--quantize-base</c> and <c>--lora-save-merged</c> refine it and need it.
/// </summary>
public sealed class LoraCliOptions
{
    private static readonly LoraOptions Defaults = new();

    public Option<int?> Rank { get; } = new Option<int?>("--lora-rank")
    {
        Description = "Train LoRA adapters of this rank over a frozen base instead of the full model.",
        HelpName = "R",
    }.Positive();

    public Option<double> Alpha { get; } = new Option<double>("--lora-alpha")
    {
        Description = $"LoRA scale numerator: adapter outputs are multiplied by alpha / rank. Default: {Defaults.Alpha}.",
        DefaultValueFactory = _ => Defaults.Alpha,
        HelpName = "A",
    }.InRange(a => a > 0 && double.IsFinite(a), "must be a positive number");

    public Option<double> Dropout { get; } = new Option<double>("--lora-dropout")
    {
        Description = $"Dropout probability on the adapters' input while training. Default: {Defaults.Dropout}.",
        DefaultValueFactory = _ => Defaults.Dropout,
        HelpName = "P",
    }.InRange(p => p >= 0 && p < 1, "must be in [0, 1)");

    public Option<IReadOnlyList<string>> Targets { get; } = new("--lora-targets")
    {
        Description = "Projections that get adapters: comma-separated q,k,v,o,gate,up,down, or all. Default: q,k,v,o.",
        HelpName = "q,k,v,o|all",
        Arity = ArgumentArity.ExactlyOne,
        DefaultValueFactory = _ => Defaults.TargetModules,
        CustomParser = ParseTargets,
    };

    public Option<BaseQuantization> QuantizeBase { get; } = new("--quantize-base")
    {
        Description = "Store the frozen base's decoder projections quantized: int8 (per-channel absmax) or nf4 (QLoRA 4-bit NormalFloat, blocks of 64). Default: not quantized.",
        HelpName = "int8|nf4",
        Arity = ArgumentArity.ExactlyOne,
        CustomParser = ParseQuantization,
    };

    public Option<bool> SaveMerged { get; } = new("--lora-save-merged")
    {
        Description = "Also write the merged model (base + adapter) to OUT/merged: true or false. Default: true.",
        DefaultValueFactory = _ => true,
    };

    private IEnumerable<Option> Refinements => new Option[] { Alpha, Dropout, Targets, QuantizeBase, SaveMerged };

    /// <summary>Adds the options to a command, with a check that the refinements come with <c>--lora-rank</c>.</summary>
    public void AddTo(Command command)
    {
        command.Options.Add(Rank);
        foreach (var option in Refinements) command.Options.Add(option);
        command.Validators.Add(r =>
        {
            if (r.GetResult(Rank) is { Implicit: false }) return;
            var given = Refinements.FirstOrDefault(o => r.GetResult(o) is { Implicit: false });
            if (given is not null) r.AddError($"{given.Name} needs --lora-rank (LoRA is off without it)");
        });
    }

    /// <summary>The LoRA settings given on the command line, or null when <c>--lora-rank</c> is absent.</summary>
    public LoraOptions? Read(ParseResult result, string? baseModelNameOrPath = null) =>
        result.GetValue(Rank) is not int rank ? null : new LoraOptions
        {
            Rank = rank,
            Alpha = result.GetValue(Alpha),
            Dropout = result.GetValue(Dropout),
            TargetModules = result.GetValue(Targets) ?? Defaults.TargetModules,
            QuantizeBase = result.GetValue(QuantizeBase),
            SaveMergedModel = result.GetValue(SaveMerged),
            BaseModelNameOrPath = baseModelNameOrPath,
        };

    private static IReadOnlyList<string> ParseTargets(ArgumentResult result)
    {
        try { return LoraOptions.ParseTargets(string.Join(',', result.Tokens.Select(t => t.Value))); }
        catch (FormatException e)
        {
            result.AddError($"--lora-targets: {e.Message}");
            return Array.Empty<string>();
        }
    }

    private static BaseQuantization ParseQuantization(ArgumentResult result)
    {
        var text = string.Join(',', result.Tokens.Select(t => t.Value));
        if (text.Trim().Equals("none", StringComparison.OrdinalIgnoreCase)) { result.AddError("--quantize-base must be int8 or nf4, got none"); return BaseQuantization.None; }
        try { return LoraOptions.ParseQuantization(text); }
        catch (FormatException e)
        {
            result.AddError($"--quantize-base: {e.Message}");
            return BaseQuantization.None;
        }
    }
}
