using System.Globalization;
using System.Text;

namespace Microsoft.ML.NEFTune.Data.Templates.Jinja;

/// <summary>
/// Splits template source into text, output and statement parts, applying Jinja's whitespace control as
/// <c>transformers</c> configures it: <c>trim_blocks</c> (the first newline after a statement or comment tag is
/// removed), <c>lstrip_blocks</c> (spaces and tabs from the start of a line up to a statement or comment tag are
/// removed), <c>-</c> inside a tag strips all whitespace on that side, <c>+</c> disables the two settings, newlines are
/// normalised to <c>\n</c> and a single trailing newline of the source is dropped (<c>keep_trailing_newline=False</c>).
/// </summary>
internal static class JinjaLexer
{
    private static readonly string[] Operators =
    {
        "//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")", "[", "]", "{", "}", ".", ",", ":", "|",
    };

    private sealed class RawTag
    {
        public required JinjaPartKind Kind { get; init; } // Output, Statement; comments use Statement with no tokens
        public bool IsComment { get; init; }
        public char Left { get; init; }   // '-', '+' or '\0'
        public char Right { get; init; }
        public required IReadOnlyList<JinjaToken> Tokens { get; init; }
        public int Line { get; init; }
        public int Start { get; init; }
    }

    public static List<JinjaPart> Tokenize(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        source = source.Replace("\r\n", "\n").Replace('\r', '\n');
        if (source.EndsWith('\n')) source = source[..^1];

        // Alternating text and tags: texts[i] comes before tags[i]; the last text has no tag after it.
        var texts = new List<(string Text, int Start, int Line)>();
        var tags = new List<RawTag>();
        int pos = 0, line = 1;
        while (true)
        {
            int open = FindTagOpen(source, pos);
            string text = open < 0 ? source[pos..] : source[pos..open];
            texts.Add((text, pos, line));
            line += Count(text, '\n');
            if (open < 0) break;
            char kind = source[open + 1];
            int p = open + 2;
            char left = p < source.Length && (source[p] == '-' || source[p] == '+') ? source[p] : '\0';
            if (left != '\0') p++;
            int tagLine = line;
            if (kind == '#')
            {
                int close = source.IndexOf("#}", p, StringComparison.Ordinal);
                if (close < 0) throw new ChatTemplateException("a comment '{#' is never closed with '#}'", tagLine);
                char right = close > p && (source[close - 1] == '-' || source[close - 1] == '+') ? source[close - 1] : '\0';
                line += Count(source.AsSpan(open, close + 2 - open), '\n');
                tags.Add(new RawTag { Kind = JinjaPartKind.Statement, IsComment = true, Left = left, Right = right, Tokens = Array.Empty<JinjaToken>(), Line = tagLine, Start = open });
                pos = close + 2;
                continue;
            }

            string closer = kind == '{' ? "}}" : "%}";
            var tokens = new List<JinjaToken>();
            char rightMark = '\0';
            while (true)
            {
                while (p < source.Length && char.IsWhiteSpace(source[p]))
                {
                    if (source[p] == '\n') line++;
                    p++;
                }

                if (p >= source.Length) throw new ChatTemplateException($"a tag is never closed with '{closer}'", tagLine);
                if ((source[p] == '-' || source[p] == '+') && string.CompareOrdinal(source, p + 1, closer, 0, 2) == 0)
                {
                    rightMark = source[p];
                    p += 3;
                    break;
                }

                if (string.CompareOrdinal(source, p, closer, 0, 2) == 0)
                {
                    p += 2;
                    break;
                }

                tokens.Add(ReadToken(source, ref p, ref line));
            }

            tokens.Add(new JinjaToken(JinjaTokenKind.End, "", null, line));
            if (kind == '{' && rightMark == '+') throw new ChatTemplateException("'+}}' is not valid; '+' only applies to statement tags", tagLine);
            tags.Add(new RawTag { Kind = kind == '{' ? JinjaPartKind.Output : JinjaPartKind.Statement, Left = left, Right = rightMark, Tokens = tokens, Line = tagLine, Start = open });
            pos = p;
        }

        // Whitespace control on the texts around each tag.
        var trimmed = texts.Select(t => t.Text).ToArray();
        for (int i = 0; i < tags.Count; i++)
        {
            var tag = tags[i];
            bool block = tag.Kind == JinjaPartKind.Statement;
            ref string before = ref trimmed[i];
            if (tag.Left == '-')
            {
                before = before.TrimEnd();
            }
            else if (block && tag.Left != '+')
            {
                // Decided on the source text: the tag must be preceded on its line by spaces and tabs only.
                string original = texts[i].Text;
                int lineStart = original.LastIndexOf('\n') + 1;
                bool atLineStart = lineStart > 0 || texts[i].Start == 0 || source[texts[i].Start - 1] == '\n';
                if (atLineStart && IsSpacesOrTabs(original.AsSpan(lineStart)))
                    before = before[..Math.Max(0, before.Length - (original.Length - lineStart))];
            }

            ref string after = ref trimmed[i + 1];
            if (tag.Right == '-') after = after.TrimStart();
            else if (block && tag.Right != '+' && after.StartsWith('\n')) after = after[1..];
        }

        var parts = new List<JinjaPart>();
        for (int i = 0; i < trimmed.Length; i++)
        {
            if (trimmed[i].Length > 0) parts.Add(new JinjaPart(JinjaPartKind.Text, trimmed[i], Array.Empty<JinjaToken>(), texts[i].Line));
            if (i < tags.Count && !tags[i].IsComment) parts.Add(new JinjaPart(tags[i].Kind, "", tags[i].Tokens, tags[i].Line));
        }

        return parts;
    }

    private static int FindTagOpen(string source, int from)
    {
        for (int i = source.IndexOf('{', from); i >= 0 && i + 1 < source.Length; i = source.IndexOf('{', i + 1))
        {
            char next = source[i + 1];
            if (next == '{' || next == '%' || next == '#') return i;
        }

        return -1;
    }

    private static bool IsSpacesOrTabs(ReadOnlySpan<char> text)
    {
        foreach (char c in text)
        {
            if (c != ' ' && c != '\t') return false;
        }

        return true;
    }

    private static int Count(ReadOnlySpan<char> text, char c)
    {
        int n = 0;
        foreach (char x in text)
        {
            if (x == c) n++;
        }

        return n;
    }

    private static JinjaToken ReadToken(string s, ref int p, ref int line)
    {
        char c = s[p];
        int start = p;
        if (char.IsLetter(c) || c == '_')
        {
            while (p < s.Length && (char.IsLetterOrDigit(s[p]) || s[p] == '_')) p++;
            return new JinjaToken(JinjaTokenKind.Name, s[start..p], null, line);
        }

        if (char.IsAsciiDigit(c))
        {
            while (p < s.Length && (char.IsAsciiDigit(s[p]) || s[p] == '_')) p++;
            bool isFloat = false;
            if (p + 1 < s.Length && s[p] == '.' && char.IsAsciiDigit(s[p + 1]))
            {
                isFloat = true;
                p++;
                while (p < s.Length && (char.IsAsciiDigit(s[p]) || s[p] == '_')) p++;
            }

            if (p < s.Length && (s[p] == 'e' || s[p] == 'E'))
            {
                int q = p + 1;
                if (q < s.Length && (s[q] == '+' || s[q] == '-')) q++;
                if (q < s.Length && char.IsAsciiDigit(s[q]))
                {
                    isFloat = true;
                    p = q;
                    while (p < s.Length && char.IsAsciiDigit(s[p])) p++;
                }
            }

            string digits = s[start..p].Replace("_", "");
            if (isFloat) return new JinjaToken(JinjaTokenKind.Float, s[start..p], double.Parse(digits, CultureInfo.InvariantCulture), line);
            if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long value))
                throw new ChatTemplateException($"the integer literal {digits} is too large", line);
            return new JinjaToken(JinjaTokenKind.Integer, s[start..p], value, line);
        }

        if (c == '\'' || c == '"')
        {
            int tokenLine = line;
            var sb = new StringBuilder();
            p++;
            while (true)
            {
                if (p >= s.Length) throw new ChatTemplateException("a string literal is never closed", tokenLine);
                char ch = s[p];
                if (ch == c)
                {
                    p++;
                    break;
                }

                if (ch == '\n') line++;
                if (ch != '\\')
                {
                    sb.Append(ch);
                    p++;
                    continue;
                }

                p++;
                if (p >= s.Length) throw new ChatTemplateException("a string literal is never closed", tokenLine);
                AppendEscape(s, ref p, sb, tokenLine);
            }

            return new JinjaToken(JinjaTokenKind.String, s[start..p], sb.ToString(), tokenLine);
        }

        foreach (string op in Operators)
        {
            if (string.CompareOrdinal(s, p, op, 0, op.Length) == 0)
            {
                p += op.Length;
                return new JinjaToken(JinjaTokenKind.Operator, op, null, line);
            }
        }

        throw new ChatTemplateException($"unexpected character '{c}' inside a tag", line);
    }

    /// <summary>Python's <c>unicode-escape</c> decoding of one escape sequence (the backslash is already consumed).</summary>
    private static void AppendEscape(string s, ref int p, StringBuilder sb, int line)
    {
        char e = s[p++];
        switch (e)
        {
            case '\n': break; // a backslash-newline continues the line
            case '\\': sb.Append('\\'); break;
            case '\'': sb.Append('\''); break;
            case '"': sb.Append('"'); break;
            case 'a': sb.Append('\a'); break;
            case 'b': sb.Append('\b'); break;
            case 'f': sb.Append('\f'); break;
            case 'n': sb.Append('\n'); break;
            case 'r': sb.Append('\r'); break;
            case 't': sb.Append('\t'); break;
            case 'v': sb.Append('\v'); break;
            case 'x': AppendCodePoint(s, ref p, 2, sb, line); break;
            case 'u': AppendCodePoint(s, ref p, 4, sb, line); break;
            case 'U': AppendCodePoint(s, ref p, 8, sb, line); break;
            case >= '0' and <= '7':
                int value = e - '0';
                for (int k = 0; k < 2 && p < s.Length && s[p] >= '0' && s[p] <= '7'; k++) value = value * 8 + (s[p++] - '0');
                sb.Append((char)value);
                break;
            case 'N': throw new ChatTemplateException("named unicode escapes (\\N{...}) are not supported", line);
            default: sb.Append('\\').Append(e); break;
        }
    }

    private static void AppendCodePoint(string s, ref int p, int digits, StringBuilder sb, int line)
    {
        if (p + digits > s.Length || !int.TryParse(s.AsSpan(p, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int code) || code > 0x10FFFF)
            throw new ChatTemplateException("a string literal has a malformed \\x, \\u or \\U escape", line);
        p += digits;
        sb.Append(char.ConvertFromUtf32(code >= 0xD800 && code <= 0xDFFF ? 0xFFFD : code));
    }
}
