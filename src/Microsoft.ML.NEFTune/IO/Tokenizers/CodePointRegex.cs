using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Microsoft.ML.NEFTune.IO.Tokenizers;

/// <summary>
/// Runs a pre-tokenizer pattern over code points rather than UTF-16 units. .NET regular expressions
/// see a character outside the Basic Multilingual Plane as two surrogates, so classes such as
/// <c>\p{L}</c> or <c>\p{N}</c> never match it, unlike the Rust engine that wrote the pattern. Each such
/// character is replaced, for matching only, by one BMP character of the same Unicode category.
/// </summary>
internal static class CodePointRegex
{
    /// <summary>The (start, end) UTF-16 ranges of the non-empty matches in <paramref name="text"/>.</summary>
    public static IEnumerable<(int Start, int End)> Matches(Regex pattern, string text)
    {
        if (!HasSurrogatePair(text))
        {
            foreach (Match match in pattern.Matches(text))
            {
                if (match.Length > 0)
                {
                    yield return (match.Index, match.Index + match.Length);
                }
            }

            yield break;
        }

        var shadow = new StringBuilder(text.Length);
        var offsets = new List<int>(text.Length + 1);
        for (int i = 0; i < text.Length;)
        {
            offsets.Add(i);
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                shadow.Append(Representative(CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(text[i], text[i + 1]))));
                i += 2;
            }
            else
            {
                shadow.Append(text[i]);
                i++;
            }
        }

        offsets.Add(text.Length);
        foreach (Match match in pattern.Matches(shadow.ToString()))
        {
            if (match.Length > 0)
            {
                yield return (offsets[match.Index], offsets[match.Index + match.Length]);
            }
        }
    }

    private static bool HasSurrogatePair(string text)
    {
        for (int i = 0; i + 1 < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && char.IsLowSurrogate(text[i + 1]))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A non-ASCII BMP character of the given category.</summary>
    private static char Representative(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter => '\u00C0',
        UnicodeCategory.LowercaseLetter => '\u00E0',
        UnicodeCategory.TitlecaseLetter => '\u01C5',
        UnicodeCategory.ModifierLetter => '\u02B0',
        UnicodeCategory.OtherLetter => '\u00AA',
        UnicodeCategory.NonSpacingMark => '\u0300',
        UnicodeCategory.SpacingCombiningMark => '\u0903',
        UnicodeCategory.EnclosingMark => '\u20DD',
        UnicodeCategory.DecimalDigitNumber => '\u0660',
        UnicodeCategory.LetterNumber => '\u2160',
        UnicodeCategory.OtherNumber => '\u00B2',
        UnicodeCategory.ConnectorPunctuation => '\u203F',
        UnicodeCategory.DashPunctuation => '\u2010',
        UnicodeCategory.OpenPunctuation => '\u2045',
        UnicodeCategory.ClosePunctuation => '\u2046',
        UnicodeCategory.InitialQuotePunctuation => '\u00AB',
        UnicodeCategory.FinalQuotePunctuation => '\u00BB',
        UnicodeCategory.OtherPunctuation => '\u00A1',
        UnicodeCategory.MathSymbol => '\u00AC',
        UnicodeCategory.CurrencySymbol => '\u00A2',
        UnicodeCategory.ModifierSymbol => '\u00B4',
        UnicodeCategory.OtherSymbol => '\u00A9',
        UnicodeCategory.Format => '\u00AD',
        UnicodeCategory.PrivateUse => '\uE000',
        _ => '\u0378', // unassigned
    };
}
