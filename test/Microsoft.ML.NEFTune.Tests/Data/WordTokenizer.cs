using Microsoft.ML.NEFTune.IO.Tokenizers;

namespace Microsoft.ML.NEFTune.Tests.Data;

/// <summary>
/// A tokenizer for tests whose tokens are space-separated words (ids handed out on first sight), so text joined
/// without a space merges: ids("a:" + "b") is one token, not two. BOS = 1, EOS = 2, no PAD.
/// </summary>
internal sealed class WordTokenizer : TextTokenizer
{
    private readonly Dictionary<string, int> ids = new();
    private readonly List<string> words = new();

    public override int VocabularySize => 3 + words.Count;
    public override int? BosId => 1;
    public override int? EosId => 2;

    public override IReadOnlyList<int> Encode(string text)
        => text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(Id).ToArray();

    public override string Decode(IEnumerable<int> tokens) => string.Join(' ', tokens.Where(t => t >= 3).Select(t => words[t - 3]));

    public override string? IdToPiece(int id) => id >= 3 && id < VocabularySize ? " " + words[id - 3] : id is >= 0 and < 3 ? "" : null;

    private int Id(string word)
    {
        if (!ids.TryGetValue(word, out int id))
        {
            id = 3 + words.Count;
            ids[word] = id;
            words.Add(word);
        }
        return id;
    }
}
