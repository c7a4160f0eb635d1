using System.Text;
using Microsoft.ML.NEFTune.IO.Tokenizers;

namespace Microsoft.ML.NEFTune.Data;

/// <summary>
/// Length and diversity of generated responses, as the NEFTune paper reports them. Words are whitespace-separated
/// pieces. For n = 2, 3, 4, rep-n = 1 − (unique n-grams / n-grams), where both counts are summed over responses
/// (n-grams are counted within a response, never across two); diversity = Π (1 − rep-n) and
/// log-diversity = −ln(max(1 − diversity, e^−20)). With a prefix length P, responses of fewer than P words are left
/// out of the diversity and the others are cut to their first P words; lengths always use every response in full.
/// </summary>
public sealed record ResponseMetrics
{
    /// <summary>Responses measured for length.</summary>
    public int ResponseCount { get; init; }

    /// <summary>Mean length in characters (Unicode code points).</summary>
    public double AverageCharacters { get; init; }

    /// <summary>Mean length in tokens (no BOS/EOS), or null without a tokenizer.</summary>
    public double? AverageTokens { get; init; }

    /// <summary>Mean length in whitespace-separated words.</summary>
    public double AverageWords { get; init; }

    /// <summary>Responses that entered the diversity (those at least as long as the prefix).</summary>
    public int DiversityResponseCount { get; init; }

    /// <summary>rep-2 in [0, 1]; NaN when there is no bigram.</summary>
    public double Repetition2 { get; init; }

    /// <summary>rep-3 in [0, 1]; NaN when there is no trigram.</summary>
    public double Repetition3 { get; init; }

    /// <summary>rep-4 in [0, 1]; NaN when there is no 4-gram.</summary>
    public double Repetition4 { get; init; }

    /// <summary>Π over n = 2..4 of (1 − rep-n), in [0, 1].</summary>
    public double Diversity { get; init; }

    /// <summary>−ln(max(1 − diversity, e^−20)), in [0, 20].</summary>
    public double LogDiversity { get; init; }

    /// <summary>Measures <paramref name="responses"/>.</summary>
    /// <param name="responses">Generated texts.</param>
    /// <param name="tokenizer">Counts tokens for <see cref="AverageTokens"/>; null to skip.</param>
    /// <param name="prefixWords">Diversity over the first this many words of responses that have them; null for whole responses.</param>
    public static ResponseMetrics Compute(IReadOnlyList<string> responses, TextTokenizer? tokenizer = null, int? prefixWords = null)
    {
        ArgumentNullException.ThrowIfNull(responses);
        if (prefixWords is < 1) throw new ArgumentOutOfRangeException(nameof(prefixWords), prefixWords, "The prefix length must be at least 1 word.");
        for (int i = 0; i < responses.Count; i++)
            if (responses[i] is null) throw new ArgumentException($"Response {i} is null.", nameof(responses));

        var words = responses.Select(Words).ToArray();
        var measured = prefixWords is { } p ? words.Where(w => w.Length >= p).Select(w => w[..p]).ToArray() : words;
        double rep2 = Repetition(measured, 2), rep3 = Repetition(measured, 3), rep4 = Repetition(measured, 4);
        double diversity = (1 - rep2) * (1 - rep3) * (1 - rep4);
        return new ResponseMetrics
        {
            ResponseCount = responses.Count,
            AverageCharacters = Mean(responses.Select(r => (double)r.EnumerateRunes().Count())),
            AverageTokens = tokenizer is null ? null : Mean(responses.Select(r => (double)tokenizer.Encode(r).Count)),
            AverageWords = Mean(words.Select(w => (double)w.Length)),
            DiversityResponseCount = measured.Length,
            Repetition2 = rep2,
            Repetition3 = rep3,
            Repetition4 = rep4,
            Diversity = diversity,
            LogDiversity = LogDiversityOf(diversity),
        };
    }

    /// <summary>rep-n over word lists: 1 − (Σ unique n-grams per list / Σ n-grams per list); NaN when there is no n-gram.</summary>
    public static double Repetition(IReadOnlyList<string[]> wordLists, int n)
    {
        ArgumentNullException.ThrowIfNull(wordLists);
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        long unique = 0, total = 0;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var list in wordLists)
        {
            seen.Clear();
            for (int i = 0; i + n <= list.Length; i++)
            {
                total++;
                seen.Add(string.Join(' ', list, i, n));
            }
            unique += seen.Count;
        }
        return total == 0 ? double.NaN : 1 - (double)unique / total;
    }

    /// <summary>−ln(max(1 − diversity, e^−20)).</summary>
    public static double LogDiversityOf(double diversity) => -Math.Log(Math.Max(1 - diversity, Math.Exp(-20)));

    /// <summary>The whitespace-separated words of a text.</summary>
    public static string[] Words(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
    }

    private static double Mean(IEnumerable<double> values)
    {
        double sum = 0;
        int count = 0;
        foreach (var v in values) { sum += v; count++; }
        return count == 0 ? double.NaN : sum / count;
    }

    /// <inheritdoc/>
    public override string ToString()
    {
        var text = new StringBuilder($"{ResponseCount} responses, {AverageCharacters:F1} chars");
        if (AverageTokens is { } tokens) text.Append($", {tokens:F1} tokens");
        return text.Append($", rep-2 {Repetition2:P2}, diversity {Diversity:F4}, log-diversity {LogDiversity:F4} over {DiversityResponseCount}").ToString();
    }
}
