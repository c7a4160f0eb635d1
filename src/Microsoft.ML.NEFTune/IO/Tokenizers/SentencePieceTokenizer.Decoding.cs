using System.Text;
using static Microsoft.ML.NEFTune.IO.Tokenizers.SentencePieceModelProto;

namespace Microsoft.ML.NEFTune.IO.Tokenizers;

// Decoding helpers of SentencePieceTokenizer: piece text and UTF-8 byte runs, as <c>sentencepiece</c>'s <c>DecodeIds</c>.
public sealed partial class SentencePieceTokenizer
{
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
}
