using System.Text.Json;
using Microsoft.ML.NEFTune.IO.Tokenizers;

namespace Microsoft.ML.NEFTune.Tests.Tokenizers;

/// <summary>
/// An OPT-style <c>vocab.json</c> + <c>merges.txt</c> folder (GPT-2's merges and tokens, RoBERTa-style special ids)
/// against ids computed by the npm package <c>gpt-3-encoder</c> (<c>eng/reference/gpt2_bpe_reference.mjs</c>).
/// </summary>
public class OptTokenizerTests
{
    private static string Folder => Path.Combine(RepositoryFiles.Root, "test", "Microsoft.ML.NEFTune.Tests", "References", "opt-tokenizer");

    private static readonly Lazy<TextTokenizer> Tokenizer = new(() => TextTokenizer.Load(Folder));

    [Fact]
    public void EveryCaseMatchesTheOutsideImplementationWithOptsLeadingEos()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "reference.json")));
        var tok = Tokenizer.Value;
        Assert.True(tok.AddBosToken);
        Assert.Equal(2, tok.BosId);
        Assert.Equal(2, tok.EosId);
        Assert.Equal(1, tok.PadId);
        int count = 0;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            string text = c.GetProperty("text").GetString()!;
            var expected = c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var ids = new[] { tok.BosId!.Value }.Concat(tok.Encode(text)).ToArray();
            Assert.True(expected.SequenceEqual(ids), $"case {count} ({text[..Math.Min(text.Length, 40)]}): expected [{string.Join(",", expected.Take(20))}…] got [{string.Join(",", ids.Take(20))}…]");
            Assert.Equal(text, tok.Decode(ids));
            count++;
        }
        Assert.True(count >= 60, $"only {count} cases");
    }

    [Fact]
    public void SpecialTokensInTextAreSplitOutWhole()
    {
        var ids = Tokenizer.Value.Encode("Hi</s>there<pad>");
        Assert.Contains(2, ids);
        Assert.Contains(1, ids);
        Assert.Equal("Hithere", Tokenizer.Value.Decode(ids));
    }

    [Fact]
    public void AFolderWithoutTheMergesIsRefusedNamingTheFiles()
    {
        using var temp = new TempDirectory();
        File.Copy(Path.Combine(Folder, "vocab.json"), temp["vocab.json"]);
        var e = Assert.Throws<FileNotFoundException>(() => TextTokenizer.Load(temp.Path));
        Assert.Contains("merges.txt", e.Message);
    }

    [Fact]
    public void ABrokenMergeLineIsRefusedWithItsLineNumber()
    {
        using var temp = new TempDirectory();
        File.Copy(Path.Combine(Folder, "vocab.json"), temp["vocab.json"]);
        File.WriteAllLines(temp["merges.txt"], new[] { "#version: 0.2", "Ġ t", "oops" });
        var e = Assert.Throws<TokenizerFormatException>(() => TextTokenizer.Load(temp.Path));
        Assert.Contains("line 3", e.Message);
    }
}
