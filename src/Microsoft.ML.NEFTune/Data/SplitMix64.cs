namespace Microsoft.ML.NEFTune.Data;

/// <summary>
/// The SplitMix64 generator (Steele, Lea, Flood 2014): a fixed, platform-independent sequence for a seed, so
/// shuffles are identical across runs, machines and .NET versions.
/// </summary>
internal sealed class SplitMix64
{
    private ulong state;

    public SplitMix64(ulong seed) => state = seed;

    /// <summary>A seed for a numbered stream (for example an epoch) derived from a base seed.</summary>
    public static ulong Derive(long seed, long stream) => Mix(Mix(unchecked((ulong)seed)) ^ unchecked((ulong)stream + 0x632BE59BD9B4E019UL));

    public ulong NextUInt64()
    {
        state = unchecked(state + 0x9E3779B97F4A7C15UL);
        return Mix(state);
    }

    /// <summary>Uniform in [0, <paramref name="bound"/>), without modulo bias.</summary>
    public int NextInt(int bound)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bound, 1);
        ulong b = (ulong)bound, threshold = unchecked(0UL - b) % b;
        while (true)
        {
            ulong r = NextUInt64();
            if (r >= threshold) return (int)(r % b);
        }
    }

    /// <summary>Fisher–Yates shuffle in place.</summary>
    public void Shuffle<T>(IList<T> items)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    private static ulong Mix(ulong z)
    {
        unchecked
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
