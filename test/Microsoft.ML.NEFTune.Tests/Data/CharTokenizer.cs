using Microsoft.ML.NEFTune.IO.Tokenizers;

namespace Microsoft.ML.NEFTune.Tests.Data;

/// <summary>A character-level tokenizer for tests: id = 3 + UTF-16 code unit; PAD = 0, BOS = 1, EOS = 2.</summary>
internal sealed class CharTokenizer : TextTokenizer
{
    public const int Offset = 3;

    public CharTokenizer(bool addBos = true) => AddBosToken = addBos;

    public override int VocabularySize => Offset + char.MaxValue + 1;
    public override int? BosId => 1;
    public override int? EosId => 2;
    public override int? PadId => 0;

    public override IReadOnlyList<int> Encode(string text) => text.Select(c => Offset + c).ToArray();

    public override string Decode(IEnumerable<int> ids) => new(ids.Where(id => id >= Offset).Select(id => (char)(id - Offset)).ToArray());

    public override string? IdToPiece(int id) => id >= Offset && id < VocabularySize ? ((char)(id - Offset)).ToString() : id is >= 0 and < Offset ? "" : null;

    public static int[] Ids(string text) => text.Select(c => Offset + c).ToArray();
}
