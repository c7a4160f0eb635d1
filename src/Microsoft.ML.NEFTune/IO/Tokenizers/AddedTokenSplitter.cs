namespace Microsoft.ML.NEFTune.IO.Tokenizers;

/// <summary>
/// Splits text around the added tokens of a Hugging Face tokenizer: at each position the longest
/// added token wins (leftmost-longest, as Hugging Face's Aho-Corasick scan), honouring <c>lstrip</c>,
/// <c>rstrip</c> and <c>single_word</c>.
/// </summary>
internal sealed class AddedTokenSplitter
{
    private readonly Dictionary<char, HuggingFaceAddedToken[]> _byFirstChar = new();

    public AddedTokenSplitter(IEnumerable<HuggingFaceAddedToken> tokens)
    {
        foreach (IGrouping<char, HuggingFaceAddedToken> group in tokens.Where(t => t.Content.Length > 0).GroupBy(t => t.Content[0]))
        {
            _byFirstChar[group.Key] = group.OrderByDescending(t => t.Content.Length).ToArray();
        }
    }

    /// <summary>Yields the text between added tokens (never empty) and the added tokens, in order.</summary>
    public IEnumerable<(string? Text, HuggingFaceAddedToken? Token)> Split(string text)
    {
        if (_byFirstChar.Count == 0)
        {
            if (text.Length > 0)
            {
                yield return (text, null);
            }

            yield break;
        }

        int segmentStart = 0;
        int position = 0;
        while (position < text.Length)
        {
            HuggingFaceAddedToken? token = LongestAt(text, position);
            if (token is null)
            {
                position++;
                continue;
            }

            int start = position;
            int end = position + token.Content.Length;
            if (token.SingleWord && !IsStandaloneWord(text, start, end))
            {
                // As a leftmost-longest scan: the rejected match is skipped as a whole.
                position = end;
                continue;
            }

            if (token.LStrip)
            {
                while (start > segmentStart && char.IsWhiteSpace(text[start - 1]))
                {
                    start--;
                }
            }

            if (token.RStrip)
            {
                while (end < text.Length && char.IsWhiteSpace(text[end]))
                {
                    end++;
                }
            }

            if (start > segmentStart)
            {
                yield return (text[segmentStart..start], null);
            }

            yield return (null, token);
            segmentStart = end;
            position = end;
        }

        if (segmentStart < text.Length)
        {
            yield return (text[segmentStart..], null);
        }
    }

    /// <summary>The longest added token starting at <paramref name="position"/>, or null when there is none.</summary>
    private HuggingFaceAddedToken? LongestAt(string text, int position)
    {
        if (!_byFirstChar.TryGetValue(text[position], out HuggingFaceAddedToken[]? candidates))
        {
            return null;
        }

        ReadOnlySpan<char> rest = text.AsSpan(position);
        foreach (HuggingFaceAddedToken candidate in candidates)
        {
            if (rest.StartsWith(candidate.Content, StringComparison.Ordinal))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>A <c>single_word</c> token must not touch a word character (regex <c>\w</c>) on either side.</summary>
    private static bool IsStandaloneWord(string text, int start, int end)
        => (start == 0 || !IsWordCharacter(text, start - 1, before: true)) &&
           (end == text.Length || !IsWordCharacter(text, end, before: false));

    private static bool IsWordCharacter(string text, int index, bool before)
    {
        // Read the whole code point ending (before) or starting (after) at index.
        int codePoint = text[index];
        if (before && char.IsLowSurrogate(text[index]) && index > 0 && char.IsHighSurrogate(text[index - 1]))
        {
            codePoint = char.ConvertToUtf32(text[index - 1], text[index]);
        }
        else if (!before && char.IsHighSurrogate(text[index]) && index + 1 < text.Length && char.IsLowSurrogate(text[index + 1]))
        {
            codePoint = char.ConvertToUtf32(text[index], text[index + 1]);
        }

        return IsWordCodePoint(codePoint);
    }

    /// <summary>Unicode <c>\w</c>: letters, marks, decimal digits, connector punctuation, letter numbers and joiners.</summary>
    private static bool IsWordCodePoint(int codePoint)
    {
        if (codePoint is 0x200C or 0x200D)
        {
            return true;
        }

        return System.Globalization.CharUnicodeInfo.GetUnicodeCategory(codePoint) switch
        {
            System.Globalization.UnicodeCategory.UppercaseLetter or
            System.Globalization.UnicodeCategory.LowercaseLetter or
            System.Globalization.UnicodeCategory.TitlecaseLetter or
            System.Globalization.UnicodeCategory.ModifierLetter or
            System.Globalization.UnicodeCategory.OtherLetter or
            System.Globalization.UnicodeCategory.NonSpacingMark or
            System.Globalization.UnicodeCategory.SpacingCombiningMark or
            System.Globalization.UnicodeCategory.EnclosingMark or
            System.Globalization.UnicodeCategory.DecimalDigitNumber or
            System.Globalization.UnicodeCategory.LetterNumber or
            System.Globalization.UnicodeCategory.ConnectorPunctuation => true,
            _ => false,
        };
    }
}
