using System.Buffers;
using Microsoft.ML.NEFTune.IO.Tokenizers;
using Microsoft.ML.Tokenizers;

namespace Microsoft.ML.NEFTune.Tests.Tokenizers;

/// <summary>The tokenizers seen through <see cref="Tokenizer"/>, ML.NET's base class, on sentencepiece's reference encodings.</summary>
public sealed class TokenizerInteropTests
{
    private static readonly Tokenizer Llama = TextTokenizer.Load(LlamaReferenceCase.ModelPath);

    public static TheoryData<int> Cases()
    {
        var data = new TheoryData<int>();
        // sentencepiece encodes "<s>" written in text as text; these tokenizers match it as the special token, as transformers does.
        foreach (var c in LlamaReferenceCase.All.Take(24).Where(c => !c.Text.Contains("<s>", StringComparison.Ordinal))) data.Add(c.Index);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void IdsCountsAndTextMatchTheReference(int index)
    {
        var c = LlamaReferenceCase.All[index];

        Assert.Equal(c.Ids, Llama.EncodeToIds(c.Text));
        Assert.Equal(c.Ids.Length, Llama.CountTokens(c.Text));
        Assert.Equal(c.Ids, Llama.EncodeToTokens(c.Text, out _).Select(t => t.Id));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void OffsetsCoverTheTextInOrder(int index)
    {
        var c = LlamaReferenceCase.All[index];
        var text = ((TextTokenizer)Llama).Decode(c.Ids);
        if (text != c.Text) return;   // offsets index the decoded text; these cases (leading spaces) do not round-trip

        var tokens = Llama.EncodeToTokens(c.Text, out var normalized);

        Assert.Null(normalized);
        Assert.Equal(c.Text, string.Concat(tokens.Select(t => c.Text[t.Offset])));
        Assert.Equal(c.Text, string.Concat(tokens.Select(t => t.Value)));
        for (int k = 1; k < tokens.Count; k++) Assert.Equal(tokens[k - 1].Offset.End.Value, tokens[k].Offset.Start.Value);
    }

    [Fact]
    public void AWordPieceHasTheOffsetOfItsWord()
    {
        var tokens = Llama.EncodeToTokens("Hello world", out _);

        Assert.Equal(new[] { "Hello", " world" }, tokens.Select(t => t.Value));
        Assert.Equal(new Range(6 - 1, 11), tokens[1].Offset);
    }

    [Fact]
    public void AByteSpelledCharacterBelongsToItsLastByte()
    {
        const string text = "a 🦙";
        var tokens = Llama.EncodeToTokens(text, out _);

        var emoji = tokens.Single(t => t.Value.Contains("🦙"));
        Assert.Equal(emoji.Value, text[emoji.Offset]);
        Assert.EndsWith("🦙", emoji.Value);
        Assert.True(tokens.Count(t => t.Value.Length == 0) >= 2, "the earlier bytes of the emoji carry no text");
    }

    [Fact]
    public void MaxTokenCountCutsAtATokenBoundary()
    {
        var c = LlamaReferenceCase.Containing("### Instruction");

        var ids = Llama.EncodeToIds(c.Text, 5, out var normalized, out int consumed);

        Assert.Equal(c.Ids.Take(5), ids);
        Assert.Equal(((TextTokenizer)Llama).Decode(c.Ids.Take(5)).Length, consumed);
        Assert.Null(normalized);
    }

    [Fact]
    public void DecodingIntoASpanStopsAtTheLastWholeToken()
    {
        var c = LlamaReferenceCase.Containing("### Instruction");
        var full = Llama.Decode(c.Ids)!;
        var buffer = new char[12];

        var status = Llama.Decode(c.Ids, buffer, out int idsConsumed, out int written);

        Assert.Equal(OperationStatus.DestinationTooSmall, status);
        Assert.Equal(((TextTokenizer)Llama).Decode(c.Ids.Take(idsConsumed)), new string(buffer, 0, written));
        Assert.True(written <= 12 && ((TextTokenizer)Llama).Decode(c.Ids.Take(idsConsumed + 1)).Length > 12);
        Assert.Equal(OperationStatus.Done, Llama.Decode(c.Ids, new char[full.Length], out _, out written));
        Assert.Equal(full.Length, written);
    }

    [Fact]
    public void AByteLevelBpeTokenizerIsATokenizerToo()
    {
        using var dir = new TempDirectory();
        var path = TinyByteLevelTokenizerJson.Write(dir, TinyByteLevelTokenizerJson.Build());
        var ours = TextTokenizer.Load(path);
        Tokenizer asBase = ours;
        const string text = "hello world";

        Assert.Equal(ours.Encode(text), asBase.EncodeToIds(text));
        Assert.Equal(text, string.Concat(asBase.EncodeToTokens(text, out _).Select(t => t.Value)));
        Assert.Equal(ours.Decode(ours.Encode(text)), asBase.Decode(asBase.EncodeToIds(text)));
    }
}
