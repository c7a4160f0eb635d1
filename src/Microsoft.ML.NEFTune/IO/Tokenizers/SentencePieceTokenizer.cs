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
public sealed class SentencePieceTokenizer : TextTokenizer
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
    }

    /// <inheritdoc />
    public override int VocabularySize => _pieces.Length;

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
    public override IReadOnlyList<int> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        EncodeCore(text, ids, pieces: null);
        return ids;
    }

    /// <summary>Encodes text to piece strings (as <c>sentencepiece</c>'s <c>encode(..., out_type=str)</c>), no BOS/EOS added.</summary>
    public IReadOnlyList<string> EncodeToPieces(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var pieces = new List<string>(text.Length / 3 + 4);
        EncodeCore(text, new List<int>(), pieces);
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

        return null;
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
            if ((uint)id >= (uint)_pieces.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is outside the vocabulary [0, {_pieces.Length}).");
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
        if ((uint)id >= (uint)_pieces.Length)
        {
            return null;
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

    /// <summary>Appends the text of a non-byte piece; returns whether a dummy-prefix space was removed.</summary>
    private bool AppendPiece(StringBuilder text, int id, bool isBosWhitespace)
    {
        switch (_types[id])
        {
            case PieceType.Control:
                return false;
            case PieceType.Unknown:
                text.Append(_unknownSurface);
                return false;
        }

        ReadOnlySpan<char> piece = _pieces[id];
        bool removed = false;
        if (isBosWhitespace && (_addDummyPrefix || _removeExtraWhitespaces) && piece.Length > 0 && piece[0] == SpaceSymbol)
        {
            piece = piece[1..];
            removed = !_removeExtraWhitespaces;
        }

        foreach (char c in piece)
        {
            text.Append(c == SpaceSymbol ? ' ' : c);
        }

        return removed;
    }

    /// <summary>Decodes pending byte pieces as UTF-8, one U+FFFD per invalid byte, and clears them.</summary>
    private static void AppendUtf8Bytes(StringBuilder text, List<byte> bytes)
    {
        if (bytes.Count == 0)
        {
            return;
        }

        ReadOnlySpan<byte> span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes);
        Span<char> buffer = stackalloc char[2];
        while (!span.IsEmpty)
        {
            if (Rune.DecodeFromUtf8(span, out Rune rune, out int consumed) == System.Buffers.OperationStatus.Done)
            {
                int written = rune.EncodeToUtf16(buffer);
                text.Append(buffer[..written]);
            }
            else
            {
                text.Append('\uFFFD');
                consumed = 1;
            }

            span = span[consumed..];
        }

        bytes.Clear();
    }

    private void EncodeCore(string text, List<int> ids, List<string>? pieces)
    {
        string normalized = Normalize(text);
        if (normalized.Length == 0)
        {
            return;
        }

        var bpe = new BpeMerger(this, normalized);
        bpe.Run();

        bool previousWasUnknown = false;
        Span<byte> utf8 = stackalloc byte[4];
        for (int index = 0; index != -1; index = bpe.Symbols[index].Next)
        {
            ref readonly Symbol symbol = ref bpe.Symbols[index];
            ReadOnlySpan<char> span = normalized.AsSpan(symbol.Start, symbol.Length);
            int id = PieceToIdOrUnknown(span);
            if (_types[id] == PieceType.Unused && bpe.HasReverseMerges)
            {
                foreach ((string piece, int pieceId) in bpe.Resegment(span.ToString()))
                {
                    Emit(piece, pieceId, ids, pieces, ref previousWasUnknown);
                }

                continue;
            }

            if (_types[id] == PieceType.Unknown && _byteFallback)
            {
                // Unknown symbols are single characters (or user-defined symbols, which are known).
                foreach (Rune rune in span.EnumerateRunes())
                {
                    int count = rune.EncodeToUtf8(utf8);
                    for (int i = 0; i < count; i++)
                    {
                        ids.Add(_byteIds[utf8[i]]);
                        pieces?.Add(_pieces[_byteIds[utf8[i]]]);
                    }
                }

                previousWasUnknown = true;
                continue;
            }

            Emit(pieces is null ? null : span.ToString(), id, ids, pieces, ref previousWasUnknown);
        }
    }

    /// <summary>Appends one resulting piece, merging runs of unknown pieces and applying byte fallback as sentencepiece does.</summary>
    private void Emit(string? piece, int id, List<int> ids, List<string>? pieces, ref bool previousWasUnknown)
    {
        bool isUnknown = _types[id] == PieceType.Unknown;
        if (isUnknown && _byteFallback)
        {
            foreach (byte b in Encoding.UTF8.GetBytes(piece!))
            {
                ids.Add(_byteIds[b]);
                pieces?.Add(_pieces[_byteIds[b]]);
            }
        }
        else if (isUnknown && previousWasUnknown)
        {
            // Consecutive unknown pieces are merged into one unknown token.
            if (pieces is not null)
            {
                pieces[^1] += piece;
            }
        }
        else
        {
            ids.Add(id);
            pieces?.Add(piece!);
        }

        previousWasUnknown = isUnknown;
    }

    /// <summary>
    /// The identity normalizer of <c>sentencepiece</c>: optional removal of extra spaces, a dummy
    /// "▁" prefix (or suffix), and spaces replaced by "▁". Unpaired surrogates become U+FFFD.
    /// </summary>
    private string Normalize(string input)
    {
        if (input.Length == 0)
        {
            return string.Empty;
        }

        int position = 0;
        if (_removeExtraWhitespaces)
        {
            while (position < input.Length && input[position] == ' ')
            {
                position++;
            }

            if (position == input.Length)
            {
                return string.Empty;
            }
        }

        char whitespace = _escapeWhitespaces ? SpaceSymbol : ' ';
        var normalized = new StringBuilder(input.Length + 2);
        if (!_treatWhitespaceAsSuffix && _addDummyPrefix)
        {
            normalized.Append(whitespace);
        }

        bool isPreviousSpace = _removeExtraWhitespaces;
        while (position < input.Length)
        {
            char c = input[position];
            if (char.IsSurrogate(c))
            {
                if (char.IsHighSurrogate(c) && position + 1 < input.Length && char.IsLowSurrogate(input[position + 1]))
                {
                    normalized.Append(c).Append(input[position + 1]);
                    position += 2;
                }
                else
                {
                    normalized.Append('\uFFFD');
                    position++;
                }

                isPreviousSpace = false;
                continue;
            }

            position++;
            if (c == ' ')
            {
                if (!isPreviousSpace)
                {
                    normalized.Append(whitespace);
                }

                isPreviousSpace = _removeExtraWhitespaces;
            }
            else
            {
                normalized.Append(c);
                isPreviousSpace = false;
            }
        }

        if (_removeExtraWhitespaces)
        {
            while (normalized.Length > 0 && normalized[^1] == whitespace)
            {
                normalized.Length--;
            }
        }

        if (_treatWhitespaceAsSuffix && _addDummyPrefix)
        {
            normalized.Append(whitespace);
        }

        return normalized.ToString();
    }

    /// <summary>Length of the symbol starting at <paramref name="position"/>: the longest user-defined symbol there, else one code point.</summary>
    private int SymbolLength(string text, int position, out bool isUserDefined)
    {
        if (_userDefinedByFirstChar.TryGetValue(text[position], out string[]? candidates))
        {
            ReadOnlySpan<char> rest = text.AsSpan(position);
            foreach (string candidate in candidates)
            {
                if (rest.StartsWith(candidate, StringComparison.Ordinal))
                {
                    isUserDefined = true;
                    return candidate.Length;
                }
            }
        }

        isUserDefined = false;
        return char.IsHighSurrogate(text[position]) && position + 1 < text.Length && char.IsLowSurrogate(text[position + 1]) ? 2 : 1;
    }

    /// <summary>As sentencepiece's PieceToId: reserved pieces first, then mergeable ones, else the unknown id.</summary>
    private int PieceToIdOrUnknown(ReadOnlySpan<char> piece)
    {
        if (_reservedLookup.TryGetValue(piece, out int id) || _mergeableLookup.TryGetValue(piece, out id))
        {
            return id;
        }

        return _unkId;
    }

    private void AddUserDefined(string text)
    {
        char first = text[0];
        _userDefinedByFirstChar.TryGetValue(first, out string[]? existing);
        string[] updated = [.. existing ?? [], text];
        Array.Sort(updated, (a, b) => b.Length.CompareTo(a.Length));
        _userDefinedByFirstChar[first] = updated;
    }

    private int? ControlId(string? piece)
    {
        if (piece is not null && _reserved.TryGetValue(piece, out int id) && _types[id] == PieceType.Control)
        {
            return id;
        }

        return null;
    }

    /// <summary>Parses <c>&lt;0xNN&gt;</c>; returns -1 when the text is not a byte piece.</summary>
    private static int ParseBytePiece(string piece)
    {
        if (piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>' &&
            byte.TryParse(piece.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out byte value) &&
            piece.AsSpan(3, 2).ToString() == value.ToString("X2"))
        {
            return value;
        }

        return -1;
    }

    private struct Symbol
    {
        public int Start;
        public int Length;
        public int Prev;
        public int Next;
        public bool Freeze;
    }

    /// <summary>A candidate merge of the adjacent symbols <see cref="Left"/> and <see cref="Right"/>.</summary>
    private readonly record struct SymbolPair(int Left, int Right, int Length);

    /// <summary>Highest score first; among equal scores the leftmost pair first (sentencepiece's order).</summary>
    private sealed class PairPriorityComparer : IComparer<(float Score, int Left)>
    {
        public static readonly PairPriorityComparer Instance = new();

        public int Compare((float Score, int Left) x, (float Score, int Left) y)
        {
            int byScore = y.Score.CompareTo(x.Score);
            return byScore != 0 ? byScore : x.Left.CompareTo(y.Left);
        }
    }

    /// <summary>One run of sentencepiece's BPE merge loop over a normalized string.</summary>
    private sealed class BpeMerger
    {
        private readonly SentencePieceTokenizer _owner;
        private readonly string _text;
        private readonly PriorityQueue<SymbolPair, (float Score, int Left)> _agenda;
        private Dictionary<string, (string Left, string Right)>? _reverseMerges;

        public BpeMerger(SentencePieceTokenizer owner, string text)
        {
            _owner = owner;
            _text = text;

            var symbols = new List<Symbol>(text.Length);
            for (int position = 0; position < text.Length;)
            {
                int length = owner.SymbolLength(text, position, out bool freeze);
                symbols.Add(new Symbol
                {
                    Start = position,
                    Length = length,
                    Prev = symbols.Count - 1,
                    Next = position + length < text.Length ? symbols.Count + 1 : -1,
                    Freeze = freeze,
                });
                position += length;
            }

            Symbols = symbols.ToArray();
            _agenda = new PriorityQueue<SymbolPair, (float, int)>(Symbols.Length, PairPriorityComparer.Instance);
        }

        public Symbol[] Symbols { get; }

        public bool HasReverseMerges => _reverseMerges is not null;

        public void Run()
        {
            for (int i = 1; i < Symbols.Length; i++)
            {
                MaybeAddPair(i - 1, i);
            }

            while (_agenda.TryDequeue(out SymbolPair top, out _))
            {
                ref Symbol left = ref Symbols[top.Left];
                ref Symbol right = ref Symbols[top.Right];

                // Skip pairs made stale by an earlier merge.
                if (left.Length == 0 || right.Length == 0 || left.Length + right.Length != top.Length)
                {
                    continue;
                }

                left.Length += right.Length;
                left.Next = right.Next;
                if (right.Next >= 0)
                {
                    Symbols[right.Next].Prev = top.Left;
                }

                right.Length = 0;

                MaybeAddPair(left.Prev, top.Left);
                MaybeAddPair(top.Left, left.Next);
            }
        }

        /// <summary>Splits UNUSED pieces back into the pieces they were merged from.</summary>
        public IEnumerable<(string Piece, int Id)> Resegment(string piece)
        {
            int id = _owner.PieceToIdOrUnknown(piece);
            if (_owner._types[id] != PieceType.Unused || _reverseMerges is null ||
                !_reverseMerges.TryGetValue(piece, out (string Left, string Right) parts))
            {
                yield return (piece, id);
                yield break;
            }

            foreach ((string Piece, int Id) item in Resegment(parts.Left))
            {
                yield return item;
            }

            foreach ((string Piece, int Id) item in Resegment(parts.Right))
            {
                yield return item;
            }
        }

        private void MaybeAddPair(int left, int right)
        {
            if (left == -1 || right == -1 || Symbols[left].Freeze || Symbols[right].Freeze)
            {
                return;
            }

            int start = Symbols[left].Start;
            int length = Symbols[left].Length + Symbols[right].Length;
            if (!_owner._mergeableLookup.TryGetValue(_text.AsSpan(start, length), out int id))
            {
                return;
            }

            _agenda.Enqueue(new SymbolPair(left, right, length), (_owner._scores[id], left));

            if (_owner._types[id] == PieceType.Unused)
            {
                _reverseMerges ??= new Dictionary<string, (string, string)>(StringComparer.Ordinal);
                _reverseMerges[_text.Substring(start, length)] =
                    (_text.Substring(start, Symbols[left].Length), _text.Substring(Symbols[right].Start, Symbols[right].Length));
            }
        }
    }
}
