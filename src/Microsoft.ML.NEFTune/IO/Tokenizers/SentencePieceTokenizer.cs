using System.Text;
using static Microsoft.ML.NEFTune.IO.Tokenizers.SentencePieceModelProto;

namespace Microsoft.ML.NEFTune.IO.Tokenizers;

/// <summary>
/// A SentencePiece BPE tokenizer (the Llama, Llama 2, Mistral and TinyLlama <c>tokenizer.model</c>)
/// whose ids, pieces and decoded text are those of Google's <c>sentencepiece</c> library.
/// </summary>
/// <remarks>
/// Encoding follows <c>sentencepiece</c>'s <c>bpe_model.cc</c>: the normalized text is split into
/// characters (user-defined symbols kept whole), and the adjacent pair whose concatenation is the
/// highest-scoring piece is merged first; among equal scores the leftmost pair wins. Characters left
/// unknown become <c>&lt;0xNN&gt;</c> byte pieces when the model has byte fallback.
/// <c>Microsoft.ML.Tokenizers</c>' <c>LlamaTokenizer</c> 2.0.1 breaks score ties toward the
/// rightmost pair instead, which changes runs of a repeated character such as <c>###</c>.
/// </remarks>
public sealed partial class SentencePieceTokenizer : TextTokenizer
{
    private const char SpaceSymbol = '\u2581';
    private const string DefaultUnknownSurface = " \u2047 ";

    private readonly string[] _pieces;
    private readonly float[] _scores;
    private readonly PieceType[] _types;

    // NORMAL, USER_DEFINED and UNUSED pieces: the ones merges may produce.
    private readonly Dictionary<string, int> _mergeable = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _mergeableLookup;

    // CONTROL, UNKNOWN and BYTE pieces: reachable by exact lookup only.
    private readonly Dictionary<string, int> _reserved = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _reservedLookup;

    private readonly int[] _byteIds = new int[256];
    private readonly Dictionary<char, string[]> _userDefinedByFirstChar = new();
    private readonly int _unkId;
    private readonly bool _byteFallback;
    private readonly bool _addDummyPrefix;
    private readonly bool _removeExtraWhitespaces;
    private readonly bool _escapeWhitespaces;
    private readonly bool _treatWhitespaceAsSuffix;
    private readonly string _unknownSurface;
    private readonly int? _bosId;
    private readonly int? _eosId;
    private readonly int? _padId;

    // Special tokens matched inside text (as transformers' LlamaTokenizer does), and added tokens beyond the model's pieces.
    private readonly AddedTokenSplitter? _specialTokens;
    private readonly Dictionary<int, HuggingFaceAddedToken> _extraTokens = new();
    private readonly bool _legacy;
    private readonly int _vocabularySize;

    private SentencePieceTokenizer(string sourcePath, SentencePieceModelProto model, TokenizerConfig? config)
        : base(sourcePath)
    {
        int count = model.Pieces.Count;
        _pieces = new string[count];
        _scores = new float[count];
        _types = new PieceType[count];
        _unkId = -1;
        Array.Fill(_byteIds, -1);

        for (int id = 0; id < count; id++)
        {
            Piece piece = model.Pieces[id];
            _pieces[id] = piece.Text;
            _scores[id] = piece.Score;
            _types[id] = piece.Type;

            bool mergeable = piece.Type is PieceType.Normal or PieceType.UserDefined or PieceType.Unused;
            if (!(mergeable ? _mergeable : _reserved).TryAdd(piece.Text, id))
            {
                throw new TokenizerFormatException(sourcePath, $"piece '{piece.Text}' (id {id}) is defined twice");
            }

            switch (piece.Type)
            {
                case PieceType.Unknown:
                    if (_unkId >= 0)
                    {
                        throw new TokenizerFormatException(sourcePath, $"more than one unknown piece (ids {_unkId} and {id})");
                    }

                    _unkId = id;
                    break;
                case PieceType.Byte:
                    if (!model.ByteFallback)
                    {
                        throw new TokenizerFormatException(sourcePath, $"byte piece '{piece.Text}' is present although byte_fallback is off");
                    }

                    int value = ParseBytePiece(piece.Text);
                    if (value < 0)
                    {
                        throw new TokenizerFormatException(sourcePath, $"byte piece '{piece.Text}' (id {id}) is not of the form <0xNN>");
                    }

                    _byteIds[value] = id;
                    break;
                case PieceType.UserDefined:
                    AddUserDefined(piece.Text);
                    break;
            }
        }

        if (_unkId < 0)
        {
            throw new TokenizerFormatException(sourcePath, "the model defines no unknown piece");
        }

        if (model.ByteFallback && Array.IndexOf(_byteIds, -1) >= 0)
        {
            throw new TokenizerFormatException(sourcePath, "byte_fallback is on but the model does not have all 256 <0xNN> byte pieces");
        }

        _mergeableLookup = _mergeable.GetAlternateLookup<ReadOnlySpan<char>>();
        _reservedLookup = _reserved.GetAlternateLookup<ReadOnlySpan<char>>();
        _byteFallback = model.ByteFallback;
        _addDummyPrefix = model.AddDummyPrefix;
        _removeExtraWhitespaces = model.RemoveExtraWhitespaces;
        _escapeWhitespaces = model.EscapeWhitespaces;
        _treatWhitespaceAsSuffix = model.TreatWhitespaceAsSuffix;
        _unknownSurface = model.UnkSurface ?? DefaultUnknownSurface;

        // As sentencepiece's bos_id()/eos_id()/pad_id(): the named piece, if it is a control piece.
        _bosId = ControlId(config?.BosToken) ?? ControlId(model.BosPiece);
        _eosId = ControlId(config?.EosToken) ?? ControlId(model.EosPiece);
        _padId = ControlId(config?.PadToken) ?? ControlId(model.PadPiece);

        ApplyConfig(config, defaultAddBos: true, defaultAddEos: false);

        _legacy = config?.Legacy ?? true;
        List<HuggingFaceAddedToken> special = SpecialTokens(sourcePath, model, config);
        _specialTokens = special.Count > 0 ? new AddedTokenSplitter(special) : null;
        _vocabularySize = Math.Max(count, _extraTokens.Count == 0 ? 0 : _extraTokens.Keys.Max() + 1);
    }

    /// <summary>
    /// The tokens transformers' <c>LlamaTokenizer</c> matches inside text: the <c>added_tokens_decoder</c> of
    /// <c>tokenizer_config.json</c> (with their flags), its <c>bos/eos/unk/pad</c> and <c>additional_special_tokens</c>,
    /// or without a config the model's own BOS, EOS, unknown and padding pieces. Added tokens that are not pieces of the
    /// model keep their ids (beyond the model's) in <see cref="_extraTokens"/>.
    /// </summary>
    private List<HuggingFaceAddedToken> SpecialTokens(string path, SentencePieceModelProto model, TokenizerConfig? config)
    {
        var tokens = new Dictionary<string, HuggingFaceAddedToken>(StringComparer.Ordinal);
        foreach (HuggingFaceAddedToken token in config?.AddedTokens ?? [])
        {
            int? piece = TokenToId(token.Content);
            if (piece is int id && id != token.Id)
            {
                throw new TokenizerFormatException(config!.FilePath, $"added token '{token.Content}' has id {token.Id}, but it is piece {id} of the model");
            }

            if (piece is null)
            {
                if (token.Id < _pieces.Length)
                {
                    throw new TokenizerFormatException(config!.FilePath, $"added token '{token.Content}' has id {token.Id}, which is the model's piece '{_pieces[token.Id]}'");
                }

                _extraTokens[token.Id] = token;
            }

            tokens[token.Content] = token;
        }

        IEnumerable<string?> names = config is null
            ? [model.BosPiece, model.EosPiece, model.UnkPiece, model.PadPiece]
            : [config.BosToken, config.EosToken, config.PadToken, config.OtherSpecialTokens.GetValueOrDefault("unk_token"), .. config.AdditionalSpecialTokens];
        foreach (string? name in names)
        {
            if (!string.IsNullOrEmpty(name) && !tokens.ContainsKey(name) && TokenToId(name) is int id)
            {
                tokens[name] = new HuggingFaceAddedToken(id, name, Special: true, LStrip: false, RStrip: false, SingleWord: false);
            }
        }

        return tokens.Values.ToList();
    }

    /// <inheritdoc />
    public override int VocabularySize => _vocabularySize;

    /// <inheritdoc />
    public override int? BosId => _bosId;

    /// <inheritdoc />
    public override int? EosId => _eosId;

    /// <inheritdoc />
    public override int? PadId => _padId;

    /// <summary>The id of the unknown piece (<c>&lt;unk&gt;</c>).</summary>
    public int UnknownId => _unkId;

    /// <summary>
    /// Loads a SentencePiece BPE <c>tokenizer.model</c>, and the <c>tokenizer_config.json</c> beside it when present.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="TokenizerFormatException">The file is not a SentencePiece BPE model this tokenizer can serve.</exception>
    public static SentencePieceTokenizer FromFile(string path)
    {
        string fullPath = RequireFile(path);
        byte[] bytes = File.ReadAllBytes(fullPath);
        if (bytes.Length == 0)
        {
            throw new TokenizerFormatException(fullPath, "the file is empty");
        }

        SentencePieceModelProto model;
        try
        {
            model = SentencePieceModelProto.Parse(bytes);
        }
        catch (InvalidDataException ex)
        {
            throw new TokenizerFormatException(fullPath, $"not a SentencePiece model protobuf ({ex.Message})", ex);
        }

        if (model.Pieces.Count == 0)
        {
            throw new TokenizerFormatException(fullPath, "not a SentencePiece model: it contains no pieces");
        }

        if (model.Model != ModelType.Bpe)
        {
            throw new TokenizerFormatException(fullPath, $"the SentencePiece model type is {model.Model}; only BPE models are supported");
        }

        if (model.PrecompiledCharsmapLength > 0)
        {
            throw new TokenizerFormatException(
                fullPath,
                $"the model's normalizer '{model.NormalizerName}' carries a precompiled character map; only the identity normalizer is supported");
        }

        return new SentencePieceTokenizer(fullPath, model, TokenizerConfig.LoadBeside(fullPath));
    }

    /// <inheritdoc />
    public override IReadOnlyList<int> Encode(string text) => Encode(text, splitSpecialTokens: false);

    /// <summary>Encodes text to token ids (no BOS/EOS added).</summary>
    /// <param name="text">The text.</param>
    /// <param name="splitSpecialTokens">
    /// False (the default of <see cref="Encode(string)"/>): special-token strings written in the text (<c>&lt;s&gt;</c>,
    /// <c>&lt;/s&gt;</c>, <c>&lt;unk&gt;</c>, the added tokens of <c>tokenizer_config.json</c>) become their ids, as in
    /// transformers' <c>LlamaTokenizer</c>; each stretch of text between them gets the dummy prefix (<c>legacy</c>, the
    /// default) or, with <c>"legacy": false</c>, only a stretch that starts the text and does not start with a space
    /// does (as transformers' converted fast tokenizer with a <c>Metaspace</c> pre-tokenizer). True: the whole text is
    /// encoded as ordinary text, as <c>sentencepiece</c> itself and transformers' <c>split_special_tokens=True</c> do.
    /// </param>
    public IReadOnlyList<int> Encode(string text, bool splitSpecialTokens)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        EncodeWithSpecialTokenMatching(text, ids, pieces: null, splitSpecialTokens);
        return ids;
    }

    private void EncodeWithSpecialTokenMatching(string text, List<int> ids, List<string>? pieces, bool splitSpecialTokens)
    {
        if (splitSpecialTokens || _specialTokens is null)
        {
            EncodeCore(text, ids, pieces);
            return;
        }

        bool first = true;
        foreach ((string? segment, HuggingFaceAddedToken? token) in _specialTokens.Split(text))
        {
            if (token is not null)
            {
                ids.Add(token.Id);
                pieces?.Add(token.Content);
            }
            else
            {
                bool dummyPrefix = _legacy || (first && segment![0] != ' ' && segment[0] != SpaceSymbol);
                EncodeCore(segment!, ids, pieces, dummyPrefix);
            }

            first = false;
        }
    }

    /// <summary>Encodes text to piece strings (as <c>sentencepiece</c>'s <c>encode(..., out_type=str)</c>), no BOS/EOS added.</summary>
    public IReadOnlyList<string> EncodeToPieces(string text, bool splitSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var pieces = new List<string>(text.Length / 3 + 4);
        EncodeWithSpecialTokenMatching(text, new List<int>(), pieces, splitSpecialTokens);
        return pieces;
    }

    /// <summary>The raw vocabulary string of an id (for example <c>"▁the"</c> or <c>"&lt;0x0A&gt;"</c>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The id is outside <c>[0, VocabularySize)</c>.</exception>
    public string GetPiece(int id)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(id);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(id, _pieces.Length);
        return _pieces[id];
    }

    /// <inheritdoc />
    public override int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (_reserved.TryGetValue(token, out int id) || _mergeable.TryGetValue(token, out id))
        {
            return id;
        }

        return _extraTokens.Values.FirstOrDefault(t => t.Content == token)?.Id;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Follows <c>sentencepiece</c>'s <c>DecodeIds</c>: control pieces produce nothing, the unknown piece
    /// produces " ⁇ ", runs of byte pieces are decoded as UTF-8 (each invalid byte becomes U+FFFD), "▁"
    /// becomes a space, and the dummy-prefix space of the first piece is removed.
    /// </remarks>
    public override string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var text = new StringBuilder();
        var bytes = new List<byte>();
        bool isBosWhitespace = true;
        bool bosWhitespaceSeen = false;

        foreach (int id in ids)
        {
            if ((uint)id >= (uint)_vocabularySize)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is outside the vocabulary [0, {_vocabularySize}).");
            }

            if (id >= _pieces.Length)
            {
                AppendUtf8Bytes(text, bytes);
                if (_extraTokens.TryGetValue(id, out HuggingFaceAddedToken? extra) && !extra.Special) text.Append(extra.Content);
                continue;
            }

            if (_types[id] == PieceType.Byte)
            {
                bytes.Add((byte)ParseBytePiece(_pieces[id]));
                continue;
            }

            AppendUtf8Bytes(text, bytes);

            if (bosWhitespaceSeen || text.Length > 0)
            {
                isBosWhitespace = false;
            }

            bosWhitespaceSeen = AppendPiece(text, id, isBosWhitespace);
        }

        AppendUtf8Bytes(text, bytes);
        return text.ToString();
    }

    /// <inheritdoc />
    public override string? IdToPiece(int id)
    {
        if ((uint)id >= (uint)_vocabularySize)
        {
            return null;
        }

        if (id >= _pieces.Length)
        {
            return _extraTokens.TryGetValue(id, out HuggingFaceAddedToken? extra) && !extra.Special ? extra.Content : string.Empty;
        }

        switch (_types[id])
        {
            case PieceType.Control:
                return string.Empty;
            case PieceType.Unknown:
                return _unknownSurface;
            case PieceType.Byte:
                int value = ParseBytePiece(_pieces[id]);
                return value < 0x80 ? ((char)value).ToString() : "\uFFFD";
            default:
                return _pieces[id].Replace(SpaceSymbol, ' ');
        }
    }
}
