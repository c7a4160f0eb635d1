using System.CommandLine;
using Microsoft.ML.NEFTune.Noise;

namespace Microsoft.ML.NEFTune.Cli;

/// <summary>The <c>--noise</c> option and the <c>--noise-kinds</c> list, checked against <see cref="NoiseKinds"/> at parse time.</summary>
public static class NoiseKindOption
{
    /// <summary><c>--noise KIND</c>: uniform (default), gaussian or a registered kind; <c>symnoise</c> is refused with the reason.</summary>
    /// <param name="defaultKind">The kind used when the option is not given (the settings' default).</param>
    public static Option<string> Create(string defaultKind)
    {
        var option = new Option<string>("--noise")
        {
            Description = "Noise kind: uniform (the paper: U(-1,1)·alpha/sqrt(L·d)), gaussian (the paper's ablation: N(0,1)·alpha/sqrt(L·d)) or a kind registered with NoiseKinds.Register. SymNoise is not available (docs/noise.md).",
            DefaultValueFactory = _ => defaultKind,
            HelpName = "KIND",
        };
        option.Validators.Add(r =>
        {
            if (r.Implicit || r.Errors.Any()) return;
            try { NoiseKinds.Get(r.GetValueOrDefault<string>() ?? ""); }
            catch (ArgumentException e) { r.AddError($"--noise: {e.Message.Split(" (Parameter")[0]}"); }
        });
        return option;
    }

    /// <summary>Parses a comma-separated list of kind names (each known, none twice).</summary>
    /// <exception cref="FormatException">An unknown or repeated name.</exception>
    public static IReadOnlyList<INoise> ParseList(string text)
    {
        var kinds = new List<INoise>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            INoise kind;
            try { kind = NoiseKinds.Get(part); }
            catch (ArgumentException e) { throw new FormatException(e.Message.Split(" (Parameter")[0], e); }
            if (kinds.Contains(kind)) throw new FormatException($"noise kind '{kind.Name}' is given twice");
            kinds.Add(kind);
        }
        if (kinds.Count == 0) throw new FormatException("the list of noise kinds is empty");
        return kinds;
    }
}
