using System.Globalization;
using System.Text.Json.Serialization;

namespace Microsoft.ML.NEFTune.Noise;

/// <summary>
/// Settings of NEFTune noisy embeddings. The defaults are the paper's method, stated here once for the library, the
/// CLI and the ML.NET estimator: alpha 5 (the smallest of the paper's 5, 10, 15), uniform noise, per-sequence
/// length as in the authors' code.
/// </summary>
public sealed record NeftuneOptions
{
    /// <summary>The noise scale alpha; the paper uses 5, 10 and 15. 0 turns noise off (bit-identical to plain fine-tuning). Default 5.</summary>
    public double Alpha { get; init; } = 5;

    /// <summary>Which L enters <c>alpha / sqrt(L·d)</c>. Default <see cref="NeftuneScaling.PerSequence"/>.</summary>
    public NeftuneScaling Scaling { get; init; } = NeftuneScaling.PerSequence;

    /// <summary>Noise distribution. Default <see cref="NeftuneDistribution.Uniform"/>.</summary>
    public NeftuneDistribution Distribution { get; init; } = NeftuneDistribution.Uniform;

    /// <summary>
    /// A noise kind of one's own, used instead of <see cref="Distribution"/>; null = the built-in kind of
    /// <see cref="Distribution"/>. Default null. To select it by name as well, register it (<see cref="NoiseKinds.Register"/>).
    /// </summary>
    [JsonIgnore]
    public INoise? Kind { get; init; }

    /// <summary>The noise kind in effect: <see cref="Kind"/>, else <see cref="UniformNoise"/> or <see cref="GaussianNoise"/>.</summary>
    [JsonIgnore]
    public INoise EffectiveKind => Kind ?? (Distribution == NeftuneDistribution.Gaussian ? GaussianNoise.Instance : UniformNoise.Instance);

    /// <summary>The name of <see cref="EffectiveKind"/> (<c>uniform</c>, <c>gaussian</c> or a registered kind's), as <c>--noise</c> and the settings JSON show it.</summary>
    public string KindName => EffectiveKind.Name;

    /// <summary>
    /// These options with the noise kind called <paramref name="name"/> (<see cref="NoiseKinds"/>): <c>uniform</c> and
    /// <c>gaussian</c> set <see cref="Distribution"/> (and clear <see cref="Kind"/>); a registered kind sets <see cref="Kind"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The name is not a known kind (<c>symnoise</c> is refused with the reason).</exception>
    public NeftuneOptions WithKind(string name) => WithKind(NoiseKinds.Get(name));

    /// <summary>These options with <paramref name="kind"/>: the built-in instances set <see cref="Distribution"/>, any other sets <see cref="Kind"/>.</summary>
    public NeftuneOptions WithKind(INoise kind)
    {
        ArgumentNullException.ThrowIfNull(kind);
        if (ReferenceEquals(kind, UniformNoise.Instance)) return this with { Distribution = NeftuneDistribution.Uniform, Kind = null };
        if (ReferenceEquals(kind, GaussianNoise.Instance)) return this with { Distribution = NeftuneDistribution.Gaussian, Kind = null };
        return this with { Kind = kind };
    }

    /// <summary>E.g. <c>NEFTune noise (uniform, alpha 5, per-sequence)</c>.</summary>
    public string Describe() => string.Format(CultureInfo.InvariantCulture, "NEFTune noise ({0}, alpha {1}, {2})",
        EffectiveKind.Name, Alpha, Scaling == NeftuneScaling.PerSequence ? "per-sequence" : "padded-length");

    public void Validate()
    {
        if (!(Alpha >= 0) || double.IsInfinity(Alpha))
            throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, "The NEFTune noise alpha must be a finite number >= 0.");
        if (!Enum.IsDefined(Scaling)) throw new ArgumentOutOfRangeException(nameof(Scaling), Scaling, "Unknown NEFTune scaling.");
        if (Kind is null && !Enum.IsDefined(Distribution)) throw new ArgumentOutOfRangeException(nameof(Distribution), Distribution, "Unknown NEFTune distribution.");
    }
}
