using Microsoft.ML.NEFTune.IO.Tokenizers;

namespace Microsoft.ML.NEFTune.Tests.Tokenizers;

/// <summary>
/// Real tokenizer.json files (Llama 3, Llama 3.1, Qwen2.5, DeepSeek V3 byte-level; Llama 2, Mistral, Gemma 2 SentencePiece-style, and
/// Llama 2 with a Metaspace pre-tokenizer) encode every reference text exactly as Hugging Face's Rust tokenizers does, with and
/// without the special tokens of the post-processor, special tokens written inside the text included.
/// </summary>
public sealed class TokenizerJsonReferenceTests
{
    public static readonly string[] Names = ["llama3_1", "llama3", "qwen2_5", "mistral", "gemma2", "llama2", "llama2-metaspace", "deepseek_v3"];

    private static readonly Dictionary<string, Lazy<(TextTokenizer Tokenizer, TokenizerJsonReference Reference)>> Loaded =
        Names.ToDictionary(n => n, n => new Lazy<(TextTokenizer, TokenizerJsonReference)>(() => LoadTokenizer(n)));

    public static TheoryData<string> Tokenizers() => new(Names);

    internal static (TextTokenizer Tokenizer, TokenizerJsonReference Reference) Get(string name) => Loaded[name].Value;

    private static (TextTokenizer, TokenizerJsonReference) LoadTokenizer(string name)
    {
        using var dir = new TempDirectory();
        TokenizerJsonReference.Materialize(name, dir.Path);
        return (TextTokenizer.Load(dir.Path), TokenizerJsonReference.Load(name));
    }

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void EveryTextEncodesToTheReferenceIds(string name)
    {
        var (tokenizer, reference) = Get(name);

        var mismatches = reference.Cases.Where(c => !tokenizer.Encode(c.Text).SequenceEqual(c.Ids))
            .Select(c => $"#{c.Index} {Show(c.Text)}: expected [{string.Join(" ", c.Ids)}] got [{string.Join(" ", tokenizer.Encode(c.Text))}]").ToList();

        Assert.True(reference.Cases.Count >= 50, "the reference should hold every case");
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void SpecialTokensAreAddedAsThePostProcessorSays(string name)
    {
        var (tokenizer, reference) = Get(name);

        var mismatches = reference.Cases.Where(c => !tokenizer.EncodeWithSpecialTokens(c.Text).SequenceEqual(c.IdsWithSpecialTokens))
            .Select(c => $"#{c.Index} {Show(c.Text)}: expected [{string.Join(" ", c.IdsWithSpecialTokens)}] got [{string.Join(" ", tokenizer.EncodeWithSpecialTokens(c.Text))}]")
            .Concat(reference.Pairs.Where(p => !tokenizer.EncodeWithSpecialTokens(p.Text, p.Second).SequenceEqual(p.IdsWithSpecialTokens))
                .Select(p => $"pair {Show(p.Text)} + {Show(p.Second)}: expected [{string.Join(" ", p.IdsWithSpecialTokens)}] got [{string.Join(" ", tokenizer.EncodeWithSpecialTokens(p.Text, p.Second))}]"))
            .ToList();

        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void IdsDecodeToTheReferenceText(string name)
    {
        var (tokenizer, reference) = Get(name);

        var mismatches = reference.Decodes.Where(d => tokenizer.Decode(d.Ids) != d.Text)
            .Select(d => $"[{string.Join(" ", d.Ids)}]: expected {Show(d.Text)} got {Show(tokenizer.Decode(d.Ids))}").ToList();

        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }

    [Theory]
    [InlineData("llama3_1", true)]
    [InlineData("llama3", false)]
    [InlineData("qwen2_5", false)]
    [InlineData("llama2", true)]
    [InlineData("gemma2", true)]
    [InlineData("deepseek_v3", true)]
    public void AddBosTokenFollowsThePostProcessor(string name, bool addsBos)
    {
        var (tokenizer, _) = Get(name);

        Assert.Equal(addsBos, tokenizer.AddBosToken);
        Assert.False(tokenizer.AddEosToken);
    }

    private static string Show(string text) => System.Text.Json.JsonSerializer.Serialize(text);
}
