using System.Text.Json;

namespace Microsoft.ML.NEFTune.IO.Tokenizers;

/// <summary>
/// The <c>post_processor</c> of a Hugging Face <c>tokenizer.json</c>: the special tokens
/// <c>encode(text, add_special_tokens=True)</c> puts around one sequence or a pair of sequences.
/// </summary>
/// <remarks>
/// Supported: <c>TemplateProcessing</c> (its <c>single</c> and <c>pair</c> templates with the ids of its
/// <c>special_tokens</c>), <c>RobertaProcessing</c> (<c>cls A sep</c>, <c>cls A sep sep B sep</c>),
/// <c>BertProcessing</c> (<c>cls A sep</c>, <c>cls A sep B sep</c>), <c>ByteLevel</c> (it only trims offsets, so
/// it adds nothing) and a <c>Sequence</c> of these in which at most one adds tokens. Any other type is refused by name.
/// </remarks>
internal sealed class HuggingFacePostProcessor
{
    /// <summary>One element of a template: a special token's ids, or the sequence A (0) or B (1).</summary>
    private readonly record struct Part(int[]? SpecialIds, int Sequence);

    private readonly Part[] _single;
    private readonly Part[] _pair;

    private HuggingFacePostProcessor(Part[] single, Part[] pair, string description)
    {
        _single = single;
        _pair = pair;
        Description = description;
    }

    /// <summary>What the processor does, e.g. <c>TemplateProcessing '&lt;s&gt; $A'</c>.</summary>
    public string Description { get; }

    /// <summary>The processor that adds nothing (no <c>post_processor</c>, or <c>ByteLevel</c>).</summary>
    public static HuggingFacePostProcessor None { get; } = new([new Part(null, 0)], [new Part(null, 0), new Part(null, 1)], "none");

    /// <summary>The ids written before the single sequence.</summary>
    public IReadOnlyList<int> SinglePrefix => _single.TakeWhile(p => p.SpecialIds is not null).SelectMany(p => p.SpecialIds!).ToArray();

    /// <summary>The ids written after the single sequence.</summary>
    public IReadOnlyList<int> SingleSuffix => _single.Reverse().TakeWhile(p => p.SpecialIds is not null).Reverse().SelectMany(p => p.SpecialIds!).ToArray();

    /// <summary>The ids of <paramref name="first"/> (and <paramref name="second"/>) with the template's special tokens around them.</summary>
    public List<int> Apply(IReadOnlyList<int> first, IReadOnlyList<int>? second)
    {
        var ids = new List<int>(first.Count + (second?.Count ?? 0) + 4);
        foreach (Part part in second is null ? _single : _pair)
        {
            if (part.SpecialIds is not null)
            {
                ids.AddRange(part.SpecialIds);
            }
            else
            {
                ids.AddRange(part.Sequence == 0 ? first : second!);
            }
        }

        return ids;
    }

    /// <summary>
    /// The <c>TemplateProcessing</c> transformers' <c>LlamaTokenizerFast</c>/<c>GemmaTokenizerFast</c>
    /// <c>update_post_processor</c> installs from <c>add_bos_token</c>/<c>add_eos_token</c>:
    /// single <c>[bos] $A [eos]</c>, pair <c>[bos] $A [eos] [bos] $B [eos]</c>.
    /// </summary>
    public static HuggingFacePostProcessor FromBosEos(int? bosId, int? eosId, bool addBos, bool addEos, string path)
    {
        if (addBos && bosId is null)
        {
            throw new TokenizerFormatException(path, "add_bos_token is true but the tokenizer has no bos_token");
        }

        if (addEos && eosId is null)
        {
            throw new TokenizerFormatException(path, "add_eos_token is true but the tokenizer has no eos_token");
        }

        var single = new List<Part>();
        if (addBos) single.Add(new Part([bosId!.Value], -1));
        single.Add(new Part(null, 0));
        if (addEos) single.Add(new Part([eosId!.Value], -1));
        var pair = new List<Part>(single);
        if (addBos) pair.Add(new Part([bosId!.Value], -1));
        pair.Add(new Part(null, 1));
        if (addEos) pair.Add(new Part([eosId!.Value], -1));
        return new HuggingFacePostProcessor(single.ToArray(), pair.ToArray(), $"add_bos_token={addBos}, add_eos_token={addEos}");
    }

    /// <summary>Reads a <c>post_processor</c> (null or JSON null: adds nothing).</summary>
    /// <exception cref="TokenizerFormatException">The processor type or its shape is not supported.</exception>
    public static HuggingFacePostProcessor Parse(JsonElement? spec, string path)
    {
        if (spec is null || spec.Value.ValueKind == JsonValueKind.Null)
        {
            return None;
        }

        string type = HuggingFaceJson.GetType(spec.Value, "post_processor", path);
        switch (type)
        {
            case "ByteLevel":
                return None;
            case "TemplateProcessing":
                return ParseTemplate(spec.Value, path);
            case "RobertaProcessing":
            case "BertProcessing":
            {
                int[] cls = [ReadTokenPair(spec.Value, "cls", path)];
                int[] sep = [ReadTokenPair(spec.Value, "sep", path)];
                Part a = new(null, 0), b = new(null, 1), c = new(cls, -1), s = new(sep, -1);
                Part[] pair = type == "RobertaProcessing" ? [c, a, s, s, b, s] : [c, a, s, b, s];
                return new HuggingFacePostProcessor([c, a, s], pair, type);
            }

            case "Sequence":
            {
                HuggingFacePostProcessor[] processors = HuggingFaceJson.GetArray(spec.Value, "processors", path)
                    .EnumerateArray().Select(p => Parse(p, path)).Where(p => !ReferenceEquals(p, None)).ToArray();
                return processors.Length switch
                {
                    0 => None,
                    1 => processors[0],
                    _ => throw new TokenizerFormatException(path, $"a Sequence post_processor with more than one processor that adds tokens ({string.Join(", ", processors.Select(p => p.Description))}) is not supported"),
                };
            }

            default:
                throw new TokenizerFormatException(path, $"post_processor type '{type}' is not supported (supported: TemplateProcessing, RobertaProcessing, BertProcessing, ByteLevel, Sequence)");
        }
    }

    private static HuggingFacePostProcessor ParseTemplate(JsonElement spec, string path)
    {
        var specialTokens = new Dictionary<string, int[]>(StringComparer.Ordinal);
        if (spec.TryGetProperty("special_tokens", out JsonElement specials) && specials.ValueKind == JsonValueKind.Object)
        {
            foreach (JsonProperty entry in specials.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.Object || !entry.Value.TryGetProperty("ids", out JsonElement ids) ||
                    ids.ValueKind != JsonValueKind.Array || ids.EnumerateArray().Any(i => i.ValueKind != JsonValueKind.Number || !i.TryGetInt32(out int v) || v < 0))
                {
                    throw new TokenizerFormatException(path, $"TemplateProcessing special token '{entry.Name}' needs a list of non-negative 'ids'");
                }

                specialTokens[entry.Name] = ids.EnumerateArray().Select(i => i.GetInt32()).ToArray();
            }
        }

        Part[] single = ReadTemplate(spec, "single", specialTokens, path);
        Part[] pair = ReadTemplate(spec, "pair", specialTokens, path);
        if (single.Count(p => p.SpecialIds is null) != 1 || single.Any(p => p.SpecialIds is null && p.Sequence != 0))
        {
            throw new TokenizerFormatException(path, "the TemplateProcessing 'single' template must hold the sequence $A once");
        }

        if (pair.Count(p => p.SpecialIds is null && p.Sequence == 0) != 1 || pair.Count(p => p.SpecialIds is null && p.Sequence == 1) != 1)
        {
            throw new TokenizerFormatException(path, "the TemplateProcessing 'pair' template must hold $A and $B once each");
        }

        string description = "TemplateProcessing '" + string.Join(" ", single.Select(p => p.SpecialIds is null ? "$A" : "[" + string.Join(",", p.SpecialIds) + "]")) + "'";
        return new HuggingFacePostProcessor(single, pair, description);
    }

    private static Part[] ReadTemplate(JsonElement spec, string name, Dictionary<string, int[]> specialTokens, string path)
    {
        var parts = new List<Part>();
        foreach (JsonElement item in HuggingFaceJson.GetArray(spec, name, path).EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("SpecialToken", out JsonElement special) &&
                special.ValueKind == JsonValueKind.Object && HuggingFaceJson.GetOptionalString(special, "id") is { } tokenName)
            {
                if (!specialTokens.TryGetValue(tokenName, out int[]? ids))
                {
                    throw new TokenizerFormatException(path, $"the TemplateProcessing '{name}' template uses '{tokenName}', which is not among its special_tokens");
                }

                parts.Add(new Part(ids, -1));
            }
            else if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("Sequence", out JsonElement sequence) &&
                     sequence.ValueKind == JsonValueKind.Object && HuggingFaceJson.GetOptionalString(sequence, "id") is "A" or "B")
            {
                parts.Add(new Part(null, HuggingFaceJson.GetOptionalString(sequence, "id") == "A" ? 0 : 1));
            }
            else
            {
                throw new TokenizerFormatException(path, $"the TemplateProcessing '{name}' template has an entry that is neither a SpecialToken nor a Sequence A/B");
            }
        }

        return parts.ToArray();
    }

    /// <summary>Reads a <c>["token", id]</c> pair of <c>RobertaProcessing</c>/<c>BertProcessing</c>.</summary>
    private static int ReadTokenPair(JsonElement spec, string name, string path)
    {
        if (spec.TryGetProperty(name, out JsonElement pair) && pair.ValueKind == JsonValueKind.Array && pair.GetArrayLength() == 2 &&
            pair[1].ValueKind == JsonValueKind.Number && pair[1].TryGetInt32(out int id) && id >= 0)
        {
            return id;
        }

        throw new TokenizerFormatException(path, $"the post_processor's '{name}' must be a [token, id] pair");
    }
}
