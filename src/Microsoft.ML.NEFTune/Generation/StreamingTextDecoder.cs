using Microsoft.ML.NEFTune.IO.Tokenizers;

namespace Microsoft.ML.NEFTune.Generation;

/// <summary>
/// Turns generated ids, one at a time, into pieces of text that concatenate to the text of all of them cut at the
/// first stop string (and trimmed, when asked). Each step decodes every id so far and emits what is new, but holds back
/// a tail that may still change: an unfinished UTF-8 character (decoded as U+FFFD), the start of a stop string, and,
/// when trimming, trailing white space.
/// </summary>
internal sealed class StreamingTextDecoder
{
    private readonly TextTokenizer tokenizer;
    private readonly IReadOnlyList<string> stops;
    private readonly bool trim;
    private readonly List<int> ids = new();
    private int emitted;
    private bool stopped;

    public StreamingTextDecoder(TextTokenizer tokenizer, IReadOnlyList<string> stops, bool trim)
    {
        this.tokenizer = tokenizer;
        this.stops = stops;
        this.trim = trim;
    }

    /// <summary>The text emitted so far.</summary>
    public string Emitted { get; private set; } = "";

    /// <summary>Adds a generated id; returns the text that became settled (possibly empty).</summary>
    public string Add(int id)
    {
        if (stopped) return "";
        ids.Add(id);
        var (text, hitStop) = Current();
        stopped = hitStop;
        int settled = text.Length;
        if (!hitStop)
        {
            while (settled > 0 && text[settled - 1] == '\uFFFD') settled--;
            settled -= LongestStopPrefixAtEnd(text.AsSpan(0, settled));
        }
        if (trim) while (settled > 0 && char.IsWhiteSpace(text[settled - 1])) settled--;
        return Emit(text, settled);
    }

    /// <summary>The rest of the text once generation has ended.</summary>
    public string Finish()
    {
        var (text, _) = Current();
        return Emit(text, text.Length);
    }

    /// <summary>How many ids were added (up to and including the one that completed a stop string).</summary>
    public int TokenCount => ids.Count;

    /// <summary>Whether a stop string has appeared.</summary>
    public bool HitStop => stopped;

    /// <summary>The text of a whole completion: decoded, cut at the first stop string, trimmed when asked.</summary>
    public static string FinalText(TextTokenizer tokenizer, IEnumerable<long> ids, IReadOnlyList<string> stops, bool trim) =>
        Cut(tokenizer.Decode(ids.Select(i => (int)i)), stops, trim).Text;

    private (string Text, bool HitStop) Current() => Cut(tokenizer.Decode(ids), stops, trim);

    private static (string Text, bool HitStop) Cut(string text, IReadOnlyList<string> stops, bool trim)
    {
        bool hit = false;
        foreach (var stop in stops)
        {
            int at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0) { text = text[..at]; hit = true; }
        }
        return (trim ? text.Trim() : text, hit);
    }

    private string Emit(string text, int settled)
    {
        // Decoding more ids only appends text in practice; if an earlier piece was revised, wait for the end.
        if (settled <= emitted || !text.AsSpan(0, emitted).SequenceEqual(Emitted)) return "";
        var piece = text[emitted..settled];
        emitted = settled;
        Emitted = text[..settled];
        return piece;
    }

    private int LongestStopPrefixAtEnd(ReadOnlySpan<char> text)
    {
        int longest = 0;
        foreach (var stop in stops)
        {
            for (int n = Math.Min(stop.Length - 1, text.Length); n > longest; n--)
            {
                if (text[^n..].SequenceEqual(stop.AsSpan(0, n))) { longest = n; break; }
            }
        }
        return longest;
    }
}
