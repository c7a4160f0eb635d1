using System.Text;
using static Microsoft.ML.NEFTune.IO.Tokenizers.SentencePieceModelProto;

namespace Microsoft.ML.NEFTune.IO.Tokenizers;

// The BPE merge loop of SentencePieceTokenizer, as <c>sentencepiece</c>'s <c>bpe_model.cc</c>: highest score first, leftmost pair on ties.
public sealed partial class SentencePieceTokenizer
{
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
