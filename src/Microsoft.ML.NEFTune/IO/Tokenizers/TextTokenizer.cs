namespace Microsoft.ML.NEFTune.IO.Tokenizers;

public abstract class TextTokenizer
{
    public abstract int VocabularySize { get; }
    public abstract int? BosId { get; }
    public abstract int? EosId { get; }
    public virtual int? PadId => null;
    public bool AddBosToken { get; protected set; } = true;
    public abstract IReadOnlyList<int> Encode(string text);
    public abstract string Decode(IEnumerable<int> ids);
    public static TextTokenizer Load(string path) => throw new NotImplementedException();
}
