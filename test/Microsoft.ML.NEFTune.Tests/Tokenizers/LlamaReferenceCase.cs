using System.Text.Json;

namespace Microsoft.ML.NEFTune.Tests.Tokenizers;

/// <summary>The cases of <c>tokenizers/llama2/reference_encodings.json</c>: sentencepiece's ids and pieces for each text.</summary>
public sealed record LlamaReferenceCase(int Index, string Text, int[] Ids, string[] Pieces)
{
    private static readonly Lazy<IReadOnlyList<LlamaReferenceCase>> Cases = new(Load);

    public static string ModelPath => Fixtures.LlamaTokenizer;

    public static IReadOnlyList<LlamaReferenceCase> All => Cases.Value;

    /// <summary>The first case whose text contains <paramref name="fragment"/>.</summary>
    public static LlamaReferenceCase Containing(string fragment)
        => All.FirstOrDefault(c => c.Text.Contains(fragment, StringComparison.Ordinal))
           ?? throw new InvalidOperationException($"No reference case contains '{fragment}'.");

    private static IReadOnlyList<LlamaReferenceCase> Load()
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("tokenizers", "llama2", "reference_encodings.json")));
        return document.RootElement.GetProperty("cases").EnumerateArray()
            .Select((c, i) => new LlamaReferenceCase(
                i,
                c.GetProperty("text").GetString()!,
                c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
                c.GetProperty("pieces").EnumerateArray().Select(e => e.GetString()!).ToArray()))
            .ToList();
    }

    public override string ToString()
        => $"case {Index} {JsonSerializer.Serialize(Text.Length > 60 ? Text[..60] + "…" : Text)}";
}
