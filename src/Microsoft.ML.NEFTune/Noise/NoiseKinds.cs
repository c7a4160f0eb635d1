using System.Collections.Concurrent;

namespace Microsoft.ML.NEFTune.Noise;

/// <summary>
/// The noise kinds selectable by name (<c>--noise</c>, <c>compare --noise-kinds</c>, ML.NET
/// <c>NoiseKind</c>, <see cref="NeftuneOptions.WithKind(string)"/>): <c>uniform</c> (the paper), <c>gaussian</c> (its ablation)
/// and any <see cref="INoise"/> made known with <see cref="Register"/>.
/// </summary>
public static class NoiseKinds
{
    /// <summary>
    /// Why <c>symnoise</c> is refused: SymNoise (Yadav &amp; Singh, arXiv 2312.01523) is not implemented because its
    /// method section could not be read to confirm the formula; a guess is not shipped under its name (docs/noise.md).
    /// </summary>
    public const string SymNoiseRefusal =
        "SymNoise (arXiv 2312.01523) is not available: its formula could not be confirmed from the paper, and a guess is not shipped under its name. " +
        "Implement INoise and register it (NoiseKinds.Register) to try your reading of it (see docs/noise.md).";

    private static readonly ConcurrentDictionary<string, INoise> Registered = new(StringComparer.Ordinal)
    {
        [UniformNoise.Instance.Name] = UniformNoise.Instance,
        [GaussianNoise.Instance.Name] = GaussianNoise.Instance,
    };

    /// <summary>The names <see cref="Get"/> accepts now: uniform, gaussian, then registered ones in name order.</summary>
    public static IReadOnlyList<string> Names => Registered.Keys
        .OrderBy(n => n == UniformNoise.Instance.Name ? 0 : n == GaussianNoise.Instance.Name ? 1 : 2).ThenBy(n => n, StringComparer.Ordinal).ToList();

    /// <summary>The kind called <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="ArgumentException">No such kind; the message lists the known ones (and says why <c>symnoise</c> is not one).</exception>
    public static INoise Get(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var key = name.Trim().ToLowerInvariant();
        if (Registered.TryGetValue(key, out var kind)) return kind;
        if (key == "symnoise") throw new ArgumentException(SymNoiseRefusal, nameof(name));
        throw new ArgumentException($"Unknown noise kind '{name}' (known: {string.Join(", ", Names)}).", nameof(name));
    }

    /// <summary>
    /// Makes a kind of one's own selectable by its <see cref="INoise.Name"/> (lower-case, no spaces or commas). Registering
    /// the same instance again does nothing; a name taken by another instance is refused.
    /// </summary>
    /// <exception cref="ArgumentException">The name is malformed or taken.</exception>
    public static void Register(INoise kind)
    {
        ArgumentNullException.ThrowIfNull(kind);
        var name = kind.Name;
        if (string.IsNullOrWhiteSpace(name) || name != name.Trim().ToLowerInvariant() || name.Contains(',') || name.Contains(' '))
            throw new ArgumentException($"A noise kind name must be lower-case, without spaces or commas; got '{name}'.", nameof(kind));
        if (name == "symnoise") throw new ArgumentException("'symnoise' is reserved: " + SymNoiseRefusal, nameof(kind));
        if (!Registered.TryAdd(name, kind) && !ReferenceEquals(Registered[name], kind))
            throw new ArgumentException($"A noise kind named '{name}' is already registered.", nameof(kind));
    }
}
