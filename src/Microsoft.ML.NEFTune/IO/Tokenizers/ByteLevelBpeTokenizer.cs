using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace Microsoft.ML.NEFTune.IO.Tokenizers;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> byte-level BPE tokenizer (GPT-2, Llama 3, Qwen2 style).
/// </summary>
/// <remarks>
/// Added tokens are split out first, then the <c>normalizer</c> and <c>pre_tokenizer</c> of the file
/// are applied, and each pre-token is encoded by <c>Microsoft.ML.Tokenizers</c>' <see cref="BpeTokenizer"/>
/// with the file's vocabulary and merges in byte-level mode. With <c>ignore_merges</c> a pre-token that
/// is itself a vocabulary entry is emitted whole, as Hugging Face does. Decoding follows the
/// <c>ByteLevel</c> decoder: tokens are mapped back to bytes and read as UTF-8.
/// </remarks>
public sealed class ByteLevelBpeTokenizer : TextTokenizer
{
    /// <summary>The largest token id accepted (2^24 − 1); real vocabularies stay far below it, and the id table is sized by the largest id.</summary>
    public const int MaxTokenId = (1 << 24) - 1;

    private readonly BpeTokenizer _bpe;
    private readonly Dictionary<string, int> _vocabulary;
    private readonly string?[] _tokensById;
    private readonly Dictionary<int, HuggingFaceAddedToken> _addedById;
    private readonly Dictionary<string, int> _addedByContent;
    private readonly AddedTokenSplitter _addedTokenSplitter;
    private readonly HuggingFaceNormalizer? _normalizer;
    private readonly HuggingFacePreTokenizer _preTokenizer;
    private readonly bool _ignoreMerges;
    private readonly int? _bosId;
    private readonly int? _eosId;
    private readonly int? _padId;

    private ByteLevelBpeTokenizer(
        string sourcePath,
        BpeTokenizer bpe,
        Dictionary<string, int> vocabulary,
        List<HuggingFaceAddedToken> addedTokens,
        HuggingFaceNormalizer? normalizer,
        HuggingFacePreTokenizer preTokenizer,
        bool ignoreMerges,
        TokenizerConfig? config)
        : base(sourcePath)
    {
        _bpe = bpe;
        _vocabulary = vocabulary;
        _normalizer = normalizer;
        _preTokenizer = preTokenizer;
        _ignoreMerges = ignoreMerges;
        _addedById = new Dictionary<int, HuggingFaceAddedToken>();
        _addedByContent = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (HuggingFaceAddedToken token in addedTokens)
        {
            _addedById[token.Id] = token;
            _addedByContent[token.Content] = token.Id;
        }

        _addedTokenSplitter = new AddedTokenSplitter(addedTokens);

        int size = Math.Max(vocabulary.Count == 0 ? 0 : vocabulary.Values.Max() + 1, addedTokens.Count == 0 ? 0 : addedTokens.Max(t => t.Id) + 1);
        _tokensById = new string?[size];
        foreach (KeyValuePair<string, int> entry in vocabulary)
        {
            _tokensById[entry.Value] = entry.Key;
        }

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

    /// <summary>
    /// Loads a byte-level BPE <c>tokenizer.json</c>, and the <c>tokenizer_config.json</c> beside it when present.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="TokenizerFormatException">The file is not a byte-level BPE <c>tokenizer.json</c> this tokenizer can serve.</exception>
    public static ByteLevelBpeTokenizer FromFile(string tokenizerJsonPath)
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

    /// <inheritdoc />
    public override IReadOnlyList<int> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        foreach ((string? segment, HuggingFaceAddedToken? token) in _addedTokenSplitter.Split(text))
        {
            if (token is not null)
            {
                ids.Add(token.Id);
                continue;
            }

            string normalized = _normalizer?.Normalize(segment!) ?? segment!;
            foreach (string piece in _preTokenizer.Split(normalized))
            {
                if (_ignoreMerges && _vocabulary.TryGetValue(ByteLevelAlphabet.Encode(piece), out int whole))
                {
                    ids.Add(whole);
                    continue;
                }

                ids.AddRange(_bpe.EncodeToIds(piece, considerPreTokenization: false, considerNormalization: false));
            }
        }

        return ids;
    }

    /// <inheritdoc />
    /// <remarks>Special added tokens produce no text; ids inside the range that name no token are skipped.</remarks>
    public override string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)_tokensById.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is outside the vocabulary [0, {_tokensById.Length}).");
            }

            AppendTokenBytes(id, bytes);
        }

        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
    }

    /// <inheritdoc />
    public override string? IdToPiece(int id)
    {
        if ((uint)id >= (uint)_tokensById.Length)
        {
            return null;
        }

        var bytes = new List<byte>();
        AppendTokenBytes(id, bytes);
        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
    }

    /// <inheritdoc />
    public override int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return TokenToIdOrNull(token);
    }

    private int? TokenToIdOrNull(string? token)
    {
        if (token is null)
        {
            return null;
        }

        if (_addedByContent.TryGetValue(token, out int id) || _vocabulary.TryGetValue(token, out id))
        {
            return id;
        }

        return null;
    }

    private void AppendTokenBytes(int id, List<byte> bytes)
    {
        if (_addedById.TryGetValue(id, out HuggingFaceAddedToken? added))
        {
            if (!added.Special)
            {
                ByteLevelAlphabet.AppendTokenBytes(added.Content, bytes);
            }

            return;
        }

        string? token = _tokensById[id];
        if (token is not null)
        {
            ByteLevelAlphabet.AppendTokenBytes(token, bytes);
        }
    }

    internal static ByteLevelBpeTokenizer Create(string path, JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out JsonElement model) || model.ValueKind != JsonValueKind.Object)
        {
            throw new TokenizerFormatException(path, "not a Hugging Face tokenizer.json: there is no 'model' object");
        }

        string modelType = HuggingFaceJson.GetOptionalString(model, "type") ?? (model.TryGetProperty("merges", out _) ? "BPE" : "unknown");
        if (modelType != "BPE")
        {
            throw new TokenizerFormatException(path, $"the model type is '{modelType}'; only BPE is supported");
        }

        if (!model.TryGetProperty("vocab", out JsonElement vocabElement) || vocabElement.ValueKind != JsonValueKind.Object)
        {
            throw new TokenizerFormatException(path, "the BPE model has no 'vocab' object");
        }

        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (JsonProperty entry in vocabElement.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
            {
                throw new TokenizerFormatException(path, $"vocabulary entry '{entry.Name}' does not have a non-negative integer id");
            }

            if (id > MaxTokenId)
            {
                throw new TokenizerFormatException(path, $"vocabulary entry '{entry.Name}' has id {id}, beyond the largest supported id {MaxTokenId}");
            }

            vocabulary[entry.Name] = id;
        }

        if (vocabulary.Count == 0)
        {
            throw new TokenizerFormatException(path, "the vocabulary is empty");
        }

        List<string> merges = ReadMerges(model, path);
        List<HuggingFaceAddedToken> addedTokens = ReadAddedTokens(root, path);
        HuggingFaceNormalizer? normalizer = HuggingFaceNormalizer.Parse(Property(root, "normalizer"), path);
        HuggingFacePreTokenizer preTokenizer = HuggingFacePreTokenizer.Parse(Property(root, "pre_tokenizer"), path);

        string? continuingSubwordPrefix = HuggingFaceJson.GetOptionalString(model, "continuing_subword_prefix");
        string? endOfWordSuffix = HuggingFaceJson.GetOptionalString(model, "end_of_word_suffix");
        var options = new BpeOptions(vocabulary)
        {
            Merges = merges,
            ByteLevel = true,
            PreTokenizer = null,
            Normalizer = null,
            UnknownToken = HuggingFaceJson.GetOptionalString(model, "unk_token"),
            FuseUnknownTokens = HuggingFaceJson.GetBool(model, "fuse_unk", defaultValue: false),
            ContinuingSubwordPrefix = string.IsNullOrEmpty(continuingSubwordPrefix) ? null : continuingSubwordPrefix,
            EndOfWordSuffix = string.IsNullOrEmpty(endOfWordSuffix) ? null : endOfWordSuffix,
        };

        BpeTokenizer bpe;
        try
        {
            bpe = BpeTokenizer.Create(options);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
        {
            throw new TokenizerFormatException(path, $"the BPE model cannot be built ({ex.Message})", ex);
        }

        TokenizerConfig? config = TokenizerConfig.LoadBeside(path);
        var tokenizer = new ByteLevelBpeTokenizer(
            path,
            bpe,
            vocabulary,
            addedTokens,
            normalizer,
            preTokenizer,
            HuggingFaceJson.GetBool(model, "ignore_merges", defaultValue: false),
            config);
        tokenizer.UsePostProcessor(Property(root, "post_processor"), config, path);
        return tokenizer;
    }

    private static JsonElement? Property(JsonElement element, string name)
        => element.TryGetProperty(name, out JsonElement value) ? value : null;

    /// <summary>Reads merges written as <c>"a b"</c> strings or as <c>["a", "b"]</c> pairs.</summary>
    internal static List<string> ReadMerges(JsonElement model, string path)
    {
        if (!model.TryGetProperty("merges", out JsonElement mergesElement) || mergesElement.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        if (mergesElement.ValueKind != JsonValueKind.Array)
        {
            throw new TokenizerFormatException(path, "'merges' must be a list");
        }

        var merges = new List<string>(mergesElement.GetArrayLength());
        int index = 0;
        foreach (JsonElement merge in mergesElement.EnumerateArray())
        {
            string? left = null;
            string? right = null;
            if (merge.ValueKind == JsonValueKind.String)
            {
                string[] parts = merge.GetString()!.Split(' ');
                if (parts.Length == 2)
                {
                    (left, right) = (parts[0], parts[1]);
                }
            }
            else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2 &&
                     merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
            {
                (left, right) = (merge[0].GetString(), merge[1].GetString());
            }

            if (string.IsNullOrEmpty(left) || string.IsNullOrEmpty(right) || left.Contains(' ') || right.Contains(' '))
            {
                throw new TokenizerFormatException(path, $"merge {index} is not a pair of space-free tokens");
            }

            merges.Add(left + " " + right);
            index++;
        }

        return merges;
    }

    internal static List<HuggingFaceAddedToken> ReadAddedTokens(JsonElement root, string path)
    {
        var tokens = new List<HuggingFaceAddedToken>();
        if (!root.TryGetProperty("added_tokens", out JsonElement list) || list.ValueKind == JsonValueKind.Null)
        {
            return tokens;
        }

        if (list.ValueKind != JsonValueKind.Array)
        {
            throw new TokenizerFormatException(path, "'added_tokens' must be a list");
        }

        foreach (JsonElement item in list.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object ||
                !item.TryGetProperty("id", out JsonElement idElement) || idElement.ValueKind != JsonValueKind.Number ||
                !idElement.TryGetInt32(out int id) || id < 0 ||
                HuggingFaceJson.GetOptionalString(item, "content") is not { Length: > 0 } content)
            {
                throw new TokenizerFormatException(path, "each 'added_tokens' entry needs a non-negative 'id' and a non-empty 'content'");
            }

            if (id > MaxTokenId)
            {
                throw new TokenizerFormatException(path, $"added token '{content}' has id {id}, beyond the largest supported id {MaxTokenId}");
            }

            tokens.Add(new HuggingFaceAddedToken(
                id,
                content,
                HuggingFaceJson.GetBool(item, "special", defaultValue: false),
                HuggingFaceJson.GetBool(item, "lstrip", defaultValue: false),
                HuggingFaceJson.GetBool(item, "rstrip", defaultValue: false),
                HuggingFaceJson.GetBool(item, "single_word", defaultValue: false)));
        }

        return tokens;
    }
}
