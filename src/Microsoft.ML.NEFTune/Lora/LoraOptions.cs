using Microsoft.ML.NEFTune.Quantization;

namespace Microsoft.ML.NEFTune.Lora;

/// <summary>Settings of LoRA adapters (Hu et al. 2021) and of the frozen base they are trained on.</summary>
public sealed record LoraOptions
{
    /// <summary>The attention projections, the default targets.</summary>
    public static readonly IReadOnlyList<string> AttentionProjections = new[] { "q_proj", "k_proj", "v_proj", "o_proj" };

    /// <summary>The feed-forward projections.</summary>
    public static readonly IReadOnlyList<string> MlpProjections = new[] { "gate_proj", "up_proj", "down_proj" };

    /// <summary>Every linear layer of a decoder block (what <c>all</c> selects).</summary>
    public static readonly IReadOnlyList<string> AllProjections = AttentionProjections.Concat(MlpProjections).ToArray();

    /// <summary>
    /// OPT's own names for its block's linear layers beyond q/k/v: the attention output <c>out_proj</c> (which
    /// <c>o_proj</c> also selects on an OPT model) and the feed-forward <c>fc1</c>, <c>fc2</c> (which <c>all</c> selects there).
    /// </summary>
    public static readonly IReadOnlyList<string> OptProjections = new[] { "out_proj", "fc1", "fc2" };

    /// <summary>Every projection name of every supported family, in model order.</summary>
    public static readonly IReadOnlyList<string> KnownProjections = AllProjections.Concat(OptProjections).ToArray();

    /// <summary>Rank r of each adapter (A is r×in, B is out×r). Default 8.</summary>
    public int Rank { get; init; } = 8;

    /// <summary>Scale numerator: the adapter output is multiplied by <c>Alpha / Rank</c>. Default 16.</summary>
    public double Alpha { get; init; } = 16;

    /// <summary>Dropout probability on the adapter's input while training. Default 0.05.</summary>
    public double Dropout { get; init; } = 0.05;

    /// <summary>Projection names that receive adapters (HF module names). Default q_proj, k_proj, v_proj, o_proj.</summary>
    public IReadOnlyList<string> TargetModules { get; init; } = AttentionProjections;

    /// <summary>Storage of the frozen decoder linear layers (targets and non-targets). Default none.</summary>
    public BaseQuantization QuantizeBase { get; init; } = BaseQuantization.None;

    /// <summary>Written to <c>adapter_config.json</c> as <c>base_model_name_or_path</c>; null writes null.</summary>
    public string? BaseModelNameOrPath { get; init; }

    /// <summary>Whether a trainer also writes the merged full model (base + adapter) next to the adapter. Default true.</summary>
    public bool SaveMergedModel { get; init; } = true;

    /// <summary>The adapter scale <c>Alpha / Rank</c>.</summary>
    public double Scaling => Alpha / Rank;

    /// <summary>Throws an exception naming the first invalid setting.</summary>
    public void Validate()
    {
        if (Rank <= 0) throw new ArgumentOutOfRangeException(nameof(Rank), Rank, "Rank must be a positive integer.");
        if (!(Alpha > 0) || double.IsInfinity(Alpha)) throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, "Alpha must be a positive finite number.");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, "Dropout must be in [0, 1).");
        if (TargetModules is null || TargetModules.Count == 0)
            throw new ArgumentOutOfRangeException(nameof(TargetModules), TargetModules, "TargetModules must name at least one projection.");
        var unknown = TargetModules.FirstOrDefault(t => !KnownProjections.Contains(t));
        if (unknown is not null)
            throw new ArgumentOutOfRangeException(nameof(TargetModules), unknown, $"TargetModules: '{unknown}' is not a decoder projection (expected {string.Join(", ", KnownProjections)}).");
        if (TargetModules.Distinct().Count() != TargetModules.Count)
            throw new ArgumentOutOfRangeException(nameof(TargetModules), string.Join(",", TargetModules), "TargetModules names a projection twice.");
        if (!Enum.IsDefined(QuantizeBase)) throw new ArgumentOutOfRangeException(nameof(QuantizeBase), QuantizeBase, "QuantizeBase must be None, Int8 or Nf4.");
    }

    /// <summary>
    /// Parses a target list: <c>all</c>, or comma-separated names, each a projection name (<c>q_proj</c>) or its short
    /// form (<c>q</c>, <c>k</c>, <c>v</c>, <c>o</c>, <c>gate</c>, <c>up</c>, <c>down</c>). Names are returned in the model's order.
    /// </summary>
    public static IReadOnlyList<string> ParseTargets(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.Trim();
        if (trimmed.Equals("all", StringComparison.OrdinalIgnoreCase) || trimmed.Equals("all-linear", StringComparison.OrdinalIgnoreCase))
            return AllProjections;
        var names = new List<string>();
        foreach (var part in trimmed.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var lower = part.ToLowerInvariant();
            var name = lower.EndsWith("_proj") || lower is "fc1" or "fc2" ? lower : lower + "_proj";
            if (!KnownProjections.Contains(name))
                throw new FormatException($"'{part}' is not a LoRA target: use all, or a comma-separated list of q, k, v, o, gate, up, down (OPT: q, k, v, out, fc1, fc2).");
            if (!names.Contains(name)) names.Add(name);
        }
        if (names.Count == 0) throw new FormatException("The LoRA target list is empty: use all, or a comma-separated list of q, k, v, o, gate, up, down (OPT: q, k, v, out, fc1, fc2).");
        return KnownProjections.Where(names.Contains).ToArray();
    }

    /// <summary>Parses <c>none</c>, <c>int8</c> or <c>nf4</c> (case-insensitive).</summary>
    public static BaseQuantization ParseQuantization(string text) => text?.Trim().ToLowerInvariant() switch
    {
        "none" or "" => BaseQuantization.None,
        "int8" => BaseQuantization.Int8,
        "nf4" => BaseQuantization.Nf4,
        _ => throw new FormatException($"'{text}' is not a base quantization: use int8 or nf4."),
    };
}
