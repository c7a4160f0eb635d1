using System.Text;
using System.Text.Json;

namespace Microsoft.ML.NEFTune.IO.Tokenizers;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> converted from a SentencePiece BPE model (Llama 2, TinyLlama, Mistral): a BPE
/// model with <c>byte_fallback</c> over "▁"-marked words, encoded as Hugging Face's <c>tokenizers</c> does.
/// </summary>
/// <remarks>
/// Added tokens are split out of the text first (<c>lstrip</c>/<c>rstrip</c>/<c>single_word</c> honoured); each other
/// stretch goes through the <c>normalizer</c> (<c>Prepend</c>, <c>Replace</c>, and the Unicode forms) and the
/// <c>pre_tokenizer</c> (none, or <c>Metaspace</c> with <c>prepend_scheme</c> <c>first</c>/<c>always</c>/<c>never</c> and
/// <c>split</c>), then the BPE model: one symbol per character (a character outside the vocabulary becomes its UTF-8
/// <c>&lt;0xNN&gt;</c> byte tokens, or the unknown token), merged by the rank of the <c>merges</c> list, leftmost first on
/// equal ranks (a character without byte tokens or unknown token is dropped, as Hugging Face does). Decoding follows the file's <c>decoder</c> (<c>Replace</c>, <c>ByteFallback</c>, <c>Fuse</c>,
/// <c>Strip</c>, <c>Metaspace</c>); special added tokens give no text.
/// </remarks>
public sealed partial class SentencePieceJsonTokenizer : TextTokenizer
{
    internal enum PrependScheme { First, Always, Never }

    private readonly string?[] _tokensById;
    private readonly Dictionary<string, int> _vocabulary;
    private readonly Dictionary<(int Left, int Right), (int Rank, int Id)> _merges;
    private readonly int[] _byteIds = new int[256];
    private readonly int? _unkId;
    private readonly bool _fuseUnknown;
    private readonly bool _ignoreMerges;
    private readonly Dictionary<int, HuggingFaceAddedToken> _addedById = new();
    private readonly Dictionary<string, int> _addedByContent = new(StringComparer.Ordinal);
    private readonly AddedTokenSplitter _splitter;
    private readonly HuggingFaceNormalizer? _normalizer;
    private readonly (char Replacement, PrependScheme Scheme, bool Split)? _metaspace;
    private readonly HuggingFacePreTokenizer? _splits;
    private readonly List<Func<List<string>, List<string>>> _decoder;
    private readonly char _spaceMarker;
    private readonly int? _bosId;
    private readonly int? _eosId;
    private readonly int? _padId;

    private SentencePieceJsonTokenizer(string path, JsonElement root, JsonElement model, TokenizerConfig? config)
        : base(path)
    {
        _vocabulary = ReadVocabulary(model, path);
        List<HuggingFaceAddedToken> added = ByteLevelBpeTokenizer.ReadAddedTokens(root, path);
        foreach (HuggingFaceAddedToken token in added)
        {
            _addedById[token.Id] = token;
            _addedByContent[token.Content] = token.Id;
        }

        _splitter = new AddedTokenSplitter(added);
        int size = Math.Max(_vocabulary.Values.Max() + 1, added.Count == 0 ? 0 : added.Max(t => t.Id) + 1);
        _tokensById = new string?[size];
        foreach ((string token, int id) in _vocabulary)
        {
            _tokensById[id] = token;
        }

        _merges = new Dictionary<(int, int), (int, int)>();
        List<string> merges = ByteLevelBpeTokenizer.ReadMerges(model, path);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            int space = merges[rank].IndexOf(' ');
            string left = merges[rank][..space], right = merges[rank][(space + 1)..];
            if (!_vocabulary.TryGetValue(left, out int leftId) || !_vocabulary.TryGetValue(right, out int rightId) || !_vocabulary.TryGetValue(left + right, out int mergedId))
            {
                throw new TokenizerFormatException(path, $"merge {rank} ('{left}' '{right}') uses or makes a token that is not in the vocabulary");
            }

            _merges.TryAdd((leftId, rightId), (rank, mergedId));
        }

        bool byteFallback = HuggingFaceJson.GetBool(model, "byte_fallback", defaultValue: false);
        Array.Fill(_byteIds, -1);
        if (byteFallback)
        {
            for (int b = 0; b < 256; b++)
            {
                _byteIds[b] = _vocabulary.TryGetValue($"<0x{b:X2}>", out int id) ? id : -1;
            }
        }

        string? unk = HuggingFaceJson.GetOptionalString(model, "unk_token");
        if (unk is not null)
        {
            _unkId = _vocabulary.TryGetValue(unk, out int id) ? id
                : throw new TokenizerFormatException(path, $"the unknown token '{unk}' is not in the vocabulary");
        }

        _fuseUnknown = HuggingFaceJson.GetBool(model, "fuse_unk", defaultValue: false);
        _ignoreMerges = HuggingFaceJson.GetBool(model, "ignore_merges", defaultValue: false);
        _normalizer = HuggingFaceNormalizer.Parse(Property(root, "normalizer"), path);
        _metaspace = ReadPreTokenizer(Property(root, "pre_tokenizer"), path, out _splits);
        _decoder = SentencePieceJsonDecoder.Read(Property(root, "decoder"), path, out _spaceMarker);

        _bosId = TokenToIdOrNull(config?.BosToken);
        _eosId = TokenToIdOrNull(config?.EosToken);
        _padId = TokenToIdOrNull(config?.PadToken);
        ApplyConfig(config, defaultAddBos: false, defaultAddEos: false);
    }

    /// <inheritdoc />
    public override int VocabularySize => _tokensById.Length;

    /// <inheritdoc />
    public override int? BosId => _bosId;

    /// <inheritdoc />
    public override int? EosId => _eosId;

    /// <inheritdoc />
    public override int? PadId => _padId;

    /// <summary>Whether a parsed <c>tokenizer.json</c> is of this kind: a BPE model with byte fallback or without a byte-level pre-tokenizer and decoder.</summary>
    internal static bool IsSentencePieceStyle(JsonElement root) =>
        root.ValueKind == JsonValueKind.Object && root.TryGetProperty("model", out JsonElement model) && model.ValueKind == JsonValueKind.Object &&
        (HuggingFaceJson.GetBool(model, "byte_fallback", defaultValue: false) ||
         !(Mentions(root, "pre_tokenizer", "ByteLevel") || Mentions(root, "decoder", "ByteLevel")));

    /// <summary>
    /// Loads a SentencePiece-style <c>tokenizer.json</c>, and the <c>tokenizer_config.json</c> beside it when present.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="TokenizerFormatException">The file is not a SentencePiece-style BPE <c>tokenizer.json</c> this tokenizer can serve.</exception>
    public static SentencePieceJsonTokenizer FromFile(string tokenizerJsonPath)
    {
        string path = RequireFile(tokenizerJsonPath);
        try
        {
            using FileStream stream = File.OpenRead(path);
            using JsonDocument document = JsonDocument.Parse(stream, new JsonDocumentOptions { AllowTrailingCommas = true });
            return Create(path, document.RootElement);
        }
        catch (JsonException ex)
        {
            throw new TokenizerFormatException(path, $"not valid JSON ({ex.Message})", ex);
        }
    }

    internal static SentencePieceJsonTokenizer Create(string path, JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out JsonElement model) || model.ValueKind != JsonValueKind.Object)
        {
            throw new TokenizerFormatException(path, "not a Hugging Face tokenizer.json: there is no 'model' object");
        }

        string modelType = HuggingFaceJson.GetOptionalString(model, "type") ?? (model.TryGetProperty("merges", out _) ? "BPE" : "unknown");
        if (modelType != "BPE")
        {
            throw new TokenizerFormatException(path, $"the model type is '{modelType}'; only BPE is supported (Unigram models such as T5's are not)");
        }

        if (model.TryGetProperty("dropout", out JsonElement dropout) && dropout.ValueKind == JsonValueKind.Number && dropout.GetDouble() > 0)
        {
            throw new TokenizerFormatException(path, "the BPE model has a 'dropout', which makes encoding random; only dropout null or 0 is supported");
        }

        foreach (string name in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
        {
            if (HuggingFaceJson.GetOptionalString(model, name) is { Length: > 0 })
            {
                throw new TokenizerFormatException(path, $"the BPE model's '{name}' is not supported for a SentencePiece-style tokenizer.json");
            }
        }

        TokenizerConfig? config = TokenizerConfig.LoadBeside(path);
        var tokenizer = new SentencePieceJsonTokenizer(path, root, model, config);
        tokenizer.UsePostProcessor(Property(root, "post_processor"), config, path);
        return tokenizer;
    }

    /// <inheritdoc />
    public override IReadOnlyList<int> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        bool first = true;
        foreach ((string? segment, HuggingFaceAddedToken? token) in _splitter.Split(text))
        {
            if (token is not null)
            {
                ids.Add(token.Id);
            }
            else
            {
                string normalized = _normalizer?.Normalize(segment!) ?? segment!;
                foreach (string word in PreTokenize(normalized, atStart: first))
                {
                    EncodeWord(word, ids);
                }
            }

            first = false;
        }

        return ids;
    }

    /// <inheritdoc />
    /// <remarks>Special added tokens produce no text.</remarks>
    public override string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var tokens = new List<string>();
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)_tokensById.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is outside the vocabulary [0, {_tokensById.Length}).");
            }

            if (_addedById.TryGetValue(id, out HuggingFaceAddedToken? added))
            {
                if (!added.Special) tokens.Add(added.Content);
            }
            else if (_tokensById[id] is { } token)
            {
                tokens.Add(token);
            }
        }

        foreach (Func<List<string>, List<string>> step in _decoder)
        {
            tokens = step(tokens);
        }

        return string.Concat(tokens);
    }

    /// <inheritdoc />
    public override string? IdToPiece(int id)
    {
        if ((uint)id >= (uint)_tokensById.Length)
        {
            return null;
        }

        if (_addedById.TryGetValue(id, out HuggingFaceAddedToken? added))
        {
            return added.Special ? string.Empty : added.Content;
        }

        string? token = _tokensById[id];
        if (token is null)
        {
            return string.Empty;
        }

        int value = SentencePieceJsonDecoder.ByteValue(token);
        return value >= 0 ? (value < 0x80 ? ((char)value).ToString() : "\uFFFD") : token.Replace(_spaceMarker, ' ');
    }

    /// <inheritdoc />
    public override int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return TokenToIdOrNull(token);
    }

    private int? TokenToIdOrNull(string? token) =>
        token is not null && (_addedByContent.TryGetValue(token, out int id) || _vocabulary.TryGetValue(token, out id)) ? id : null;

    /// <summary>The pre-tokens of a normalized stretch (the whole stretch when there is no pre-tokenizer).</summary>
    private IEnumerable<string> PreTokenize(string text, bool atStart)
    {
        if (_splits is not null)
        {
            foreach (string piece in _splits.Split(text)) yield return piece;
            yield break;
        }

        if (_metaspace is not { } metaspace)
        {
            if (text.Length > 0) yield return text;
            yield break;
        }

        string replaced = text.Replace(' ', metaspace.Replacement);
        bool prepend = metaspace.Scheme == PrependScheme.Always || (metaspace.Scheme == PrependScheme.First && atStart);
        if (prepend && replaced.Length > 0 && replaced[0] != metaspace.Replacement)
        {
            replaced = metaspace.Replacement + replaced;
        }

        if (!metaspace.Split)
        {
            if (replaced.Length > 0) yield return replaced;
            yield break;
        }

        // Split before every replacement character (MergedWithNext).
        int start = 0;
        for (int i = 1; i < replaced.Length; i++)
        {
            if (replaced[i] == metaspace.Replacement)
            {
                yield return replaced[start..i];
                start = i;
            }
        }

        if (start < replaced.Length) yield return replaced[start..];
    }

    private static Dictionary<string, int> ReadVocabulary(JsonElement model, string path)
    {
        if (!model.TryGetProperty("vocab", out JsonElement vocabElement) || vocabElement.ValueKind != JsonValueKind.Object)
        {
            throw new TokenizerFormatException(path, "the BPE model has no 'vocab' object");
        }

        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (JsonProperty entry in vocabElement.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0 || id > ByteLevelBpeTokenizer.MaxTokenId)
            {
                throw new TokenizerFormatException(path, $"vocabulary entry '{entry.Name}' does not have an integer id in [0, {ByteLevelBpeTokenizer.MaxTokenId}]");
            }

            vocabulary[entry.Name] = id;
        }

        return vocabulary.Count > 0 ? vocabulary : throw new TokenizerFormatException(path, "the vocabulary is empty");
    }

    /// <summary>The <c>Metaspace</c> pre-tokenizer, or (in <paramref name="splits"/>) <c>Split</c>/<c>Digits</c> steps such as Gemma's, or neither.</summary>
    private static (char, PrependScheme, bool)? ReadPreTokenizer(JsonElement? spec, string path, out HuggingFacePreTokenizer? splits)
    {
        splits = null;
        if (spec is null || spec.Value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        string type = HuggingFaceJson.GetType(spec.Value, "pre_tokenizer", path);
        if (type == "Sequence" && HuggingFaceJson.GetArray(spec.Value, "pretokenizers", path) is { } list && list.GetArrayLength() == 1)
        {
            return ReadPreTokenizer(list[0], path, out splits);
        }

        if (type is "Split" or "Digits" or "Sequence")
        {
            splits = HuggingFacePreTokenizer.ParseSplits(spec.Value, path);
            return null;
        }

        if (type != "Metaspace")
        {
            throw new TokenizerFormatException(path, $"pre_tokenizer type '{type}' is not supported in a SentencePiece-style tokenizer.json (supported: none, Metaspace, Split, Digits)");
        }

        return (ReadReplacement(spec.Value, path), ReadPrependScheme(spec.Value, path), HuggingFaceJson.GetBool(spec.Value, "split", defaultValue: true));
    }

    internal static char ReadReplacement(JsonElement spec, string path)
    {
        string replacement = HuggingFaceJson.GetOptionalString(spec, "replacement") ?? "\u2581";
        return replacement.Length == 1 ? replacement[0] : throw new TokenizerFormatException(path, $"the Metaspace replacement '{replacement}' is not one character");
    }

    internal static PrependScheme ReadPrependScheme(JsonElement spec, string path)
    {
        // Files written before prepend_scheme existed have add_prefix_space (true meaning "always").
        string scheme = HuggingFaceJson.GetOptionalString(spec, "prepend_scheme")
            ?? (HuggingFaceJson.GetBool(spec, "add_prefix_space", defaultValue: true) ? "always" : "never");
        return scheme switch
        {
            "first" => PrependScheme.First,
            "always" => PrependScheme.Always,
            "never" => PrependScheme.Never,
            _ => throw new TokenizerFormatException(path, $"Metaspace prepend_scheme '{scheme}' is not supported (first, always, never)"),
        };
    }

    private static bool Mentions(JsonElement root, string property, string type) =>
        root.TryGetProperty(property, out JsonElement value) && HasType(value, type);

    /// <summary>Whether <paramref name="element"/> or an object nested in it has the given <c>"type"</c>.</summary>
    private static bool HasType(JsonElement element, string type) => element.ValueKind switch
    {
        JsonValueKind.Object => HuggingFaceJson.GetOptionalString(element, "type") == type || element.EnumerateObject().Any(p => HasType(p.Value, type)),
        JsonValueKind.Array => element.EnumerateArray().Any(e => HasType(e, type)),
        _ => false,
    };

    private static JsonElement? Property(JsonElement element, string name)
        => element.TryGetProperty(name, out JsonElement value) ? value : null;
}
