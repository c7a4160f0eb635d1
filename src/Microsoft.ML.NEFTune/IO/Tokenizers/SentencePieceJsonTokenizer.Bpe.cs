using System.Text;

namespace Microsoft.ML.NEFTune.IO.Tokenizers;

// The BPE model of SentencePieceJsonTokenizer, as Hugging Face's tokenizers runs it: one symbol per character (byte
// fallback or the unknown token for characters outside the vocabulary), merged by rank, leftmost pair on equal ranks.
public sealed partial class SentencePieceJsonTokenizer
{
    /// <summary>Encodes one pre-token with the BPE model, as Hugging Face's <c>BPE::merge_word</c>/<c>Word::merge_all</c>.</summary>
    private void EncodeWord(string word, List<int> ids)
    {
        if (_ignoreMerges && _vocabulary.TryGetValue(word, out int whole))
        {
            ids.Add(whole);
            return;
        }

        // Initial symbols: one per character, byte tokens or the (fused) unknown token for characters outside the vocabulary.
        var symbols = new List<int>(word.Length);
        bool previousUnknown = false;
        Span<byte> utf8 = stackalloc byte[4];
        foreach (Rune rune in word.EnumerateRunes())
        {
            if (_vocabulary.TryGetValue(rune.ToString(), out int id))
            {
                symbols.Add(id);
                previousUnknown = false;
                continue;
            }

            int count = rune.EncodeToUtf8(utf8);
            bool allBytes = true;
            for (int i = 0; i < count; i++) allBytes &= _byteIds[utf8[i]] >= 0;
            if (allBytes)
            {
                for (int i = 0; i < count; i++) symbols.Add(_byteIds[utf8[i]]);
                previousUnknown = false;
                continue;
            }

            // Without an unknown token Hugging Face drops the character; so does this encoder.
            if (_unkId is int unk && !(_fuseUnknown && previousUnknown)) symbols.Add(unk);
            previousUnknown = _unkId is not null;
        }

        MergeAll(symbols);
        ids.AddRange(symbols);
    }

    /// <summary>Applies merges lowest rank first, leftmost first among equal ranks, until none applies.</summary>
    private void MergeAll(List<int> symbols)
    {
        int n = symbols.Count;
        if (n < 2) return;
        var next = new int[n];
        var previous = new int[n];
        var alive = new bool[n];
        for (int i = 0; i < n; i++)
        {
            next[i] = i + 1 < n ? i + 1 : -1;
            previous[i] = i - 1;
            alive[i] = true;
        }

        var queue = new PriorityQueue<(int Position, int Id), (int Rank, int Position)>();
        void Push(int position)
        {
            if (position < 0 || next[position] < 0) return;
            if (_merges.TryGetValue((symbols[position], symbols[next[position]]), out var merge))
            {
                queue.Enqueue((position, merge.Id), (merge.Rank, position));
            }
        }

        for (int i = 0; i + 1 < n; i++) Push(i);
        while (queue.TryDequeue(out var top, out _))
        {
            int position = top.Position;
            if (!alive[position] || next[position] < 0) continue;
            int right = next[position];
            if (!_merges.TryGetValue((symbols[position], symbols[right]), out var merge) || merge.Id != top.Id) continue;

            symbols[position] = merge.Id;
            alive[right] = false;
            next[position] = next[right];
            if (next[right] >= 0) previous[next[right]] = position;
            Push(previous[position]);
            Push(position);
        }

        int write = 0;
        for (int i = 0; i != -1 && i < n; i = next[i])
        {
            symbols[write++] = symbols[i];
        }

        symbols.RemoveRange(write, n - write);
    }
}
