using System.Text.Json;
using System.Text.RegularExpressions;

namespace Microsoft.ML.NEFTune.IO.Tokenizers;

/// <summary>
/// The <c>pre_tokenizer</c> of a Hugging Face byte-level <c>tokenizer.json</c>: <c>ByteLevel</c>
/// (with its GPT-2 split pattern and <c>add_prefix_space</c>), <c>Split</c>, <c>Digits</c> and
/// <c>Sequence</c> of these, the <c>ByteLevel</c> step last. It yields text pieces; the byte-level
/// alphabet is applied afterwards by the BPE model.
/// </summary>
internal sealed class HuggingFacePreTokenizer
{
    /// <summary>The split pattern of the Hugging Face <c>ByteLevel</c> pre-tokenizer (GPT-2's).</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private enum SplitBehavior
    {
        Removed,
        Isolated,
        MergedWithPrevious,
        MergedWithNext,
        Contiguous,
    }

    private readonly List<Func<string, IEnumerable<string>>> _steps;

    private HuggingFacePreTokenizer(List<Func<string, IEnumerable<string>>> steps)
    {
        _steps = steps;
    }

    /// <summary>Splits a text segment into the pieces the BPE model encodes one by one.</summary>
    public List<string> Split(string text)
    {
        var pieces = new List<string> { text };
        foreach (Func<string, IEnumerable<string>> step in _steps)
        {
            var next = new List<string>(pieces.Count * 2);
            foreach (string piece in pieces)
            {
                foreach (string part in step(piece))
                {
                    if (part.Length > 0)
                    {
                        next.Add(part);
                    }
                }
            }

            pieces = next;
        }

        return pieces;
    }

    /// <summary>Builds the pre-tokenizer; throws unless it is a supported one ending in <c>ByteLevel</c>.</summary>
    public static HuggingFacePreTokenizer Parse(JsonElement? spec, string path) => Parse(spec, path, byteLevel: true);

    /// <summary>
    /// Reads a pre-tokenizer of <c>Split</c>/<c>Digits</c> steps (a <c>Sequence</c> of them) for a tokenizer that is not
    /// byte-level (SentencePiece-style files such as Gemma's); <c>ByteLevel</c> is refused there.
    /// </summary>
    public static HuggingFacePreTokenizer ParseSplits(JsonElement spec, string path) => Parse(spec, path, byteLevel: false);

    private static HuggingFacePreTokenizer Parse(JsonElement? spec, string path, bool byteLevel)
    {
        if (spec is null || spec.Value.ValueKind == JsonValueKind.Null)
        {
            throw new TokenizerFormatException(path, "the tokenizer has no pre_tokenizer, so it is not a byte-level BPE tokenizer (SentencePieceJsonTokenizer serves SentencePiece-style files)");
        }

        var flat = new List<JsonElement>();
        Flatten(spec.Value, flat, path);
        if (byteLevel && (flat.Count == 0 || HuggingFaceJson.GetType(flat[^1], "pre_tokenizer", path) != "ByteLevel"))
        {
            throw new TokenizerFormatException(path, "the pre_tokenizer does not end with ByteLevel, so it is not a byte-level BPE tokenizer");
        }

        var steps = new List<Func<string, IEnumerable<string>>>();
        foreach (JsonElement item in flat)
        {
            string type = HuggingFaceJson.GetType(item, "pre_tokenizer", path);
            switch (type)
            {
                case "ByteLevel" when byteLevel:
                    bool addPrefixSpace = HuggingFaceJson.GetBool(item, "add_prefix_space", defaultValue: true);
                    bool useRegex = HuggingFaceJson.GetBool(item, "use_regex", defaultValue: true);
                    if (addPrefixSpace)
                    {
                        steps.Add(static s => [s.StartsWith(' ') ? s : " " + s]);
                    }

                    if (useRegex)
                    {
                        Regex gpt2 = new(Gpt2Pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
                        steps.Add(s => SplitByPattern(s, gpt2, SplitBehavior.Isolated, invert: false));
                    }

                    break;
                case "Split":
                    Regex pattern = HuggingFaceJson.GetPattern(item, path);
                    SplitBehavior behavior = ParseBehavior(HuggingFaceJson.GetString(item, "behavior", path), path);
                    bool invert = HuggingFaceJson.GetBool(item, "invert", defaultValue: false);
                    steps.Add(s => SplitByPattern(s, pattern, behavior, invert));
                    break;
                case "Digits":
                    bool individual = HuggingFaceJson.GetBool(item, "individual_digits", defaultValue: false);
                    Regex digits = new(individual ? @"\p{N}" : @"\p{N}+", RegexOptions.Compiled | RegexOptions.CultureInvariant);
                    steps.Add(s => SplitByPattern(s, digits, SplitBehavior.Isolated, invert: false));
                    break;
                default:
                    throw new TokenizerFormatException(path, $"pre_tokenizer type '{type}' is not supported");
            }
        }

        return new HuggingFacePreTokenizer(steps);
    }

    private static void Flatten(JsonElement spec, List<JsonElement> output, string path)
    {
        if (HuggingFaceJson.GetType(spec, "pre_tokenizer", path) == "Sequence")
        {
            foreach (JsonElement item in HuggingFaceJson.GetArray(spec, "pretokenizers", path).EnumerateArray())
            {
                Flatten(item, output, path);
            }
        }
        else
        {
            output.Add(spec);
        }
    }

    private static SplitBehavior ParseBehavior(string value, string path) => value switch
    {
        "Removed" => SplitBehavior.Removed,
        "Isolated" => SplitBehavior.Isolated,
        "MergedWithPrevious" => SplitBehavior.MergedWithPrevious,
        "MergedWithNext" => SplitBehavior.MergedWithNext,
        "Contiguous" => SplitBehavior.Contiguous,
        _ => throw new TokenizerFormatException(path, $"Split behavior '{value}' is not supported"),
    };

    /// <summary>Splits as Hugging Face's <c>NormalizedString::split</c> does for a pattern and behavior.</summary>
    private static IEnumerable<string> SplitByPattern(string text, Regex pattern, SplitBehavior behavior, bool invert)
    {
        // Cover the text with (start, end, isMatch) spans.
        var spans = new List<(int Start, int End, bool IsMatch)>();
        int previous = 0;
        foreach ((int start, int end) in CodePointRegex.Matches(pattern, text))
        {
            if (start > previous)
            {
                spans.Add((previous, start, invert));
            }

            spans.Add((start, end, !invert));
            previous = end;
        }

        if (previous < text.Length)
        {
            spans.Add((previous, text.Length, invert));
        }

        var merged = new List<(int Start, int End)>();
        switch (behavior)
        {
            case SplitBehavior.Removed:
                merged.AddRange(spans.Where(s => !s.IsMatch).Select(s => (s.Start, s.End)));
                break;
            case SplitBehavior.Isolated:
                merged.AddRange(spans.Select(s => (s.Start, s.End)));
                break;
            case SplitBehavior.Contiguous:
            {
                bool previousMatch = false;
                foreach ((int start, int end, bool isMatch) in spans)
                {
                    if (isMatch == previousMatch && merged.Count > 0)
                    {
                        merged[^1] = (merged[^1].Start, end);
                    }
                    else
                    {
                        merged.Add((start, end));
                    }

                    previousMatch = isMatch;
                }

                break;
            }

            case SplitBehavior.MergedWithPrevious:
            {
                bool previousMatch = false;
                foreach ((int start, int end, bool isMatch) in spans)
                {
                    if (isMatch && !previousMatch && merged.Count > 0)
                    {
                        merged[^1] = (merged[^1].Start, end);
                    }
                    else
                    {
                        merged.Add((start, end));
                    }

                    previousMatch = isMatch;
                }

                break;
            }

            case SplitBehavior.MergedWithNext:
            {
                bool previousMatch = false;
                for (int i = spans.Count - 1; i >= 0; i--)
                {
                    (int start, int end, bool isMatch) = spans[i];
                    if (isMatch && !previousMatch && merged.Count > 0)
                    {
                        merged[^1] = (start, merged[^1].End);
                    }
                    else
                    {
                        merged.Add((start, end));
                    }

                    previousMatch = isMatch;
                }

                merged.Reverse();
                break;
            }
        }

        foreach ((int start, int end) in merged)
        {
            yield return text[start..end];
        }
    }
}
