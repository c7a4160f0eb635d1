using System.Text;
using static Microsoft.ML.NEFTune.IO.Tokenizers.SentencePieceModelProto;

namespace Microsoft.ML.NEFTune.IO.Tokenizers;

// Encoding of SentencePieceTokenizer: normalization, symbol splitting and the emission of pieces, ids and byte fallback.
public sealed partial class SentencePieceTokenizer
{
    private void EncodeCore(string text, List<int> ids, List<string>? pieces, bool addDummyPrefix = true)
    {
        string normalized = Normalize(text, addDummyPrefix && _addDummyPrefix);
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
    private string Normalize(string input, bool addDummyPrefix)
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
        if (!_treatWhitespaceAsSuffix && addDummyPrefix)
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

        if (_treatWhitespaceAsSuffix && addDummyPrefix)
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
}
