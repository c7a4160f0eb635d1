using System.Text;
using System.Text.Json;

namespace Microsoft.ML.NEFTune.IO.Tokenizers;

/// <summary>
/// The <c>decoder</c> of a SentencePiece-style <c>tokenizer.json</c> (<c>Replace</c>, <c>ByteFallback</c>, <c>Fuse</c>,
/// <c>Strip</c>, <c>Metaspace</c>, <c>Sequence</c>) as steps over the list of token strings, applied in order as Hugging
/// Face's <c>tokenizers</c> applies them; any other decoder type is refused by name.
/// </summary>
internal static class SentencePieceJsonDecoder
{
    /// <summary>The decoder as steps over the list of token strings; <paramref name="spaceMarker"/> is the character it turns into a space.</summary>
    public static List<Func<List<string>, List<string>>> Read(JsonElement? spec, string path, out char spaceMarker)
    {
        spaceMarker = '\u2581';
        var steps = new List<Func<List<string>, List<string>>>();
        if (spec is null || spec.Value.ValueKind == JsonValueKind.Null)
        {
            return steps;
        }

        var flat = new List<JsonElement>();
        void Flatten(JsonElement item)
        {
            if (HuggingFaceJson.GetType(item, "decoder", path) == "Sequence")
            {
                foreach (JsonElement inner in HuggingFaceJson.GetArray(item, "decoders", path).EnumerateArray()) Flatten(inner);
            }
            else
            {
                flat.Add(item);
            }
        }

        Flatten(spec.Value);
        foreach (JsonElement item in flat)
        {
            string type = HuggingFaceJson.GetType(item, "decoder", path);
            switch (type)
            {
                case "Replace":
                {
                    var pattern = HuggingFaceJson.GetPattern(item, path);
                    string content = HuggingFaceJson.GetString(item, "content", path).Replace("$", "$$", StringComparison.Ordinal);
                    if (content == " " && item.TryGetProperty("pattern", out JsonElement p) && HuggingFaceJson.GetOptionalString(p, "String") is { Length: 1 } marker)
                    {
                        spaceMarker = marker[0];
                    }

                    steps.Add(tokens => tokens.Select(t => pattern.Replace(t, content)).ToList());
                    break;
                }

                case "ByteFallback":
                    steps.Add(DecodeByteFallback);
                    break;
                case "Fuse":
                    steps.Add(static tokens => [string.Concat(tokens)]);
                    break;
                case "Strip":
                {
                    string content = HuggingFaceJson.GetString(item, "content", path);
                    if (content.Length != 1) throw new TokenizerFormatException(path, "the Strip decoder's content must be one character");
                    int start = item.TryGetProperty("start", out JsonElement s) && s.ValueKind == JsonValueKind.Number && s.TryGetInt32(out int sv) ? sv : 0;
                    int stop = item.TryGetProperty("stop", out JsonElement e) && e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int ev) ? ev : 0;
                    steps.Add(tokens => tokens.Select(t => Strip(t, content[0], start, stop)).ToList());
                    break;
                }

                case "Metaspace":
                {
                    char replacement = SentencePieceJsonTokenizer.ReadReplacement(item, path);
                    bool stripFirst = SentencePieceJsonTokenizer.ReadPrependScheme(item, path) != SentencePieceJsonTokenizer.PrependScheme.Never;
                    spaceMarker = replacement;
                    steps.Add(tokens => tokens.Select((t, i) =>
                    {
                        string text = t.Replace(replacement, ' ');
                        return i == 0 && stripFirst && text.StartsWith(' ') ? text[1..] : text;
                    }).ToList());
                    break;
                }

                default:
                    throw new TokenizerFormatException(path, $"decoder type '{type}' is not supported in a SentencePiece-style tokenizer.json (supported: Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence)");
            }
        }

        return steps;
    }

    /// <summary>Runs of <c>&lt;0xNN&gt;</c> tokens become their UTF-8 text, or one U+FFFD per byte when they are not valid UTF-8.</summary>
    private static List<string> DecodeByteFallback(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        var bytes = new List<byte>();
        var strict = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        void Flush()
        {
            if (bytes.Count == 0) return;
            try
            {
                result.Add(strict.GetString(bytes.ToArray()));
            }
            catch (DecoderFallbackException)
            {
                result.AddRange(Enumerable.Repeat("\uFFFD", bytes.Count));
            }

            bytes.Clear();
        }

        foreach (string token in tokens)
        {
            int value = ByteValue(token);
            if (value >= 0)
            {
                bytes.Add((byte)value);
                continue;
            }

            Flush();
            result.Add(token);
        }

        Flush();
        return result;
    }

    private static string Strip(string token, char content, int start, int stop)
    {
        int from = 0, to = token.Length;
        while (from < start && from < to && token[from] == content) from++;
        while (token.Length - to < stop && to > from && token[to - 1] == content) to--;
        return token[from..to];
    }

    /// <summary>The byte of a <c>&lt;0xNN&gt;</c> token, or -1.</summary>
    public static int ByteValue(string token) =>
        token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>' &&
        int.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out int value)
            ? value
            : -1;

}
