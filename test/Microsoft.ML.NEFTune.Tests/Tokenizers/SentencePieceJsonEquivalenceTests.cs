using Microsoft.ML.NEFTune.IO.Tokenizers;

namespace Microsoft.ML.NEFTune.Tests.Tokenizers;

/// <summary>
/// The Llama 2 model as tokenizer.model (SentencePieceTokenizer) and as tokenizer.json (SentencePieceJsonTokenizer)
/// encode identically: the json on sentencepiece's reference cases, and the tokenizer.model on the texts Hugging Face's
/// tokenizers encoded from the json (special tokens written in the text included), for the legacy converter output and,
/// with <c>"legacy": false</c> in tokenizer_config.json, for the Metaspace one.
/// </summary>
public sealed class SentencePieceJsonEquivalenceTests
{
    [Fact]
    public void TokenizerJsonEncodesEverySentencePieceReferenceCase()
    {
        var (json, _) = TokenizerJsonReferenceTests.Get("llama2");
        var model = SentencePieceTokenizer.FromFile(LlamaReferenceCase.ModelPath);

        // sentencepiece never matches "<s>" in text; transformers does, in both tokenizers, so those cases are compared between the two.
        var mismatches = LlamaReferenceCase.All
            .Where(c => !json.Encode(c.Text).SequenceEqual(c.Text.Contains("<s>") ? model.Encode(c.Text) : c.Ids))
            .Select(c => $"{c}: expected [{string.Join(",", c.Ids.Take(20))}] got [{string.Join(",", json.Encode(c.Text).Take(20))}]")
            .ToList();

        Assert.True(LlamaReferenceCase.All.Count > 300, "the reference file should hold the full case list");
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }

    [Theory]
    [InlineData("llama2", true)]
    [InlineData("llama2-metaspace", true)]
    [InlineData("llama2", false)]
    public void TokenizerModelEncodesTheTokenizerJsonReference(string name, bool withConfig)
    {
        using var dir = new TempDirectory();
        File.Copy(LlamaReferenceCase.ModelPath, dir["tokenizer.model"]);
        if (withConfig) File.Copy(Path.Combine(TokenizerJsonReference.Root, name, "tokenizer_config.json"), dir["tokenizer_config.json"]);
        var model = TextTokenizer.Load(dir.Path);
        var reference = TokenizerJsonReference.Load(name);

        Assert.IsType<SentencePieceTokenizer>(model);
        var mismatches = reference.Cases
            .Where(c => !model.Encode(c.Text).SequenceEqual(c.Ids) || !model.EncodeWithSpecialTokens(c.Text).SequenceEqual(c.IdsWithSpecialTokens))
            .Select(c => $"#{c.Index} {System.Text.Json.JsonSerializer.Serialize(c.Text)}: expected [{string.Join(" ", c.IdsWithSpecialTokens)}] got [{string.Join(" ", model.EncodeWithSpecialTokens(c.Text))}]")
            .Concat(reference.Pairs.Where(p => !model.EncodeWithSpecialTokens(p.Text, p.Second).SequenceEqual(p.IdsWithSpecialTokens))
                .Select(p => $"pair {p.Text} + {p.Second}: expected [{string.Join(" ", p.IdsWithSpecialTokens)}] got [{string.Join(" ", model.EncodeWithSpecialTokens(p.Text, p.Second))}]"))
            .ToList();

        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }

    [Fact]
    public void AFolderWithBothFilesThatDisagreeEncodesAsItsTokenizerJson()
    {
        // Phi-3 mini's layout: a tokenizer.json written the legacy way beside a tokenizer.model, and "legacy": false in
        // tokenizer_config.json. AutoTokenizer loads the tokenizer.json as written; the slow tokenizer would apply
        // "legacy": false. Both references are Hugging Face's tokenizers (the legacy file, and the file converted with
        // legacy: false).
        using var dir = new TempDirectory();
        File.Copy(LlamaReferenceCase.ModelPath, dir["tokenizer.model"]);
        File.WriteAllText(dir["tokenizer.json"], TokenizerJsonReference.TokenizerJsonText("llama2"));
        File.Copy(Path.Combine(TokenizerJsonReference.Root, "llama2-metaspace", "tokenizer_config.json"), dir["tokenizer_config.json"]);
        var fast = TokenizerJsonReference.Load("llama2");
        var slow = TokenizerJsonReference.Load("llama2-metaspace");

        var tokenizer = TextTokenizer.Load(dir.Path);

        Assert.Contains(fast.Cases.Zip(slow.Cases), p => !p.First.IdsWithSpecialTokens.SequenceEqual(p.Second.IdsWithSpecialTokens));   // the two files disagree
        var mismatches = fast.Cases
            .Where(c => !tokenizer.Encode(c.Text).SequenceEqual(c.Ids) || !tokenizer.EncodeWithSpecialTokens(c.Text).SequenceEqual(c.IdsWithSpecialTokens))
            .Select(c => $"#{c.Index} {System.Text.Json.JsonSerializer.Serialize(c.Text)}: expected [{string.Join(" ", c.IdsWithSpecialTokens)}] got [{string.Join(" ", tokenizer.EncodeWithSpecialTokens(c.Text))}]")
            .ToList();
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }
}
