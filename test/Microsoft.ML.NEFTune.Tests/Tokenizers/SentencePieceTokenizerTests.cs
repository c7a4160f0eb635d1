using Microsoft.ML.NEFTune.IO.Tokenizers;

namespace Microsoft.ML.NEFTune.Tests.Tokenizers;

public sealed class SentencePieceTokenizerTests
{
    private static readonly Lazy<SentencePieceTokenizer> Llama = new(() => SentencePieceTokenizer.FromFile(LlamaReferenceCase.ModelPath));

    private static SentencePieceTokenizer Tokenizer => Llama.Value;

    private static int Id(string piece) => Tokenizer.TokenToId(piece) ?? throw new InvalidOperationException($"'{piece}' is not in the vocabulary");

    // sentencepiece itself never matches special tokens written in the text (one case has "<s>" and "</s>"), so the
    // reference is compared with splitSpecialTokens: true.
    [Fact]
    public void EveryReferenceCaseEncodesToSentencePieceIds()
    {
        var mismatches = LlamaReferenceCase.All
            .Where(c => !Tokenizer.Encode(c.Text, splitSpecialTokens: true).SequenceEqual(c.Ids))
            .Select(c => $"{c}: expected [{string.Join(",", c.Ids.Take(20))}] got [{string.Join(",", Tokenizer.Encode(c.Text, splitSpecialTokens: true).Take(20))}]")
            .ToList();

        Assert.True(LlamaReferenceCase.All.Count > 300, "the reference file should hold the full case list");
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }

    [Fact]
    public void EveryReferenceCaseEncodesToSentencePiecePieces()
    {
        var mismatches = LlamaReferenceCase.All
            .Where(c => !Tokenizer.EncodeToPieces(c.Text, splitSpecialTokens: true).SequenceEqual(c.Pieces))
            .Select(c => $"{c}: expected [{string.Join(" ", c.Pieces.Take(20))}] got [{string.Join(" ", Tokenizer.EncodeToPieces(c.Text, splitSpecialTokens: true).Take(20))}]")
            .ToList();

        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }

    [Fact]
    public void EveryReferenceCaseRoundTripsThroughDecode()
    {
        var mismatches = LlamaReferenceCase.All
            .Where(c => Tokenizer.Decode(c.Ids) != c.Text)
            .Select(c => $"{c}: decoded {System.Text.Json.JsonSerializer.Serialize(Tokenizer.Decode(c.Ids))}")
            .ToList();

        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }

    [Fact]
    public void AlpacaResponseMarkerAfterNewlinesSplitsHashesLeftPairFirst()
    {
        // sentencepiece: "##" then "#" (the leftmost of two equal-score "##" pairs merges first).
        int[] expected = [835, 2799, 4080, 29901, 13, 29903, 388, 7251, 29889, 13, 13, 2277, 29937, 13291, 29901];

        Assert.Equal(expected, Tokenizer.Encode("### Instruction:\nSay hi.\n\n### Response:"));
        Assert.Equal(["##", "#"], Tokenizer.EncodeToPieces("\n###").Skip(2));
    }

    [Fact]
    public void UnderscoreRunMatchesSentencePiece()
    {
        LlamaReferenceCase underscores = LlamaReferenceCase.Containing("____.");

        Assert.Equal(underscores.Ids, Tokenizer.Encode(underscores.Text));
        Assert.Equal(["▁_", "__", "_."], Tokenizer.EncodeToPieces(underscores.Text).TakeLast(3));
    }

    [Fact]
    public void DashRunsOfMarkdownTableMatchSentencePiece()
    {
        LlamaReferenceCase table = LlamaReferenceCase.Containing("---------|");

        Assert.Equal(table.Ids, Tokenizer.Encode(table.Text));
    }

    [Fact]
    public void LongRepeatedCharacterRunMatchesSentencePiece()
    {
        LlamaReferenceCase xs = LlamaReferenceCase.Containing("xxxxxxxxxxxxxxxx");

        Assert.Equal(xs.Ids, Tokenizer.Encode(xs.Text));
    }

    [Fact]
    public void UnknownCharactersFallBackToUtf8BytePieces()
    {
        Assert.Equal(["▁", "<0xF0>", "<0x9F>", "<0xA4>", "<0x96>"], Tokenizer.EncodeToPieces("🤖"));
        Assert.Equal([Id("<0x0A>")], Tokenizer.Encode("\n").Skip(1));
    }

    [Fact]
    public void EmptyTextEncodesToNoIds()
    {
        Assert.Empty(Tokenizer.Encode(string.Empty));
    }

    [Fact]
    public void DecodeSkipsControlTokensAndRemovesDummyPrefixAfterBos()
    {
        int[] ids = [1, Id("▁Hello"), Id("▁world"), 2];

        Assert.Equal("Hello world", Tokenizer.Decode(ids));
    }

    [Fact]
    public void DecodeKeepsSpaceOfFirstPieceWhenBytesPrecedeIt()
    {
        Assert.Equal("\n world", Tokenizer.Decode([Id("<0x0A>"), Id("▁world")]));
    }

    [Fact]
    public void DecodeJoinsBytePiecesIntoUtf8Characters()
    {
        Assert.Equal("🤖", Tokenizer.Decode([Id("<0xF0>"), Id("<0x9F>"), Id("<0xA4>"), Id("<0x96>")]));
    }

    [Fact]
    public void DecodeWritesOneReplacementCharacterPerInvalidByte()
    {
        Assert.Equal("\uFFFD\uFFFD a", Tokenizer.Decode([Id("<0xF0>"), Id("<0x9F>"), Id("▁a")]));
    }

    [Fact]
    public void DecodeWritesUnknownTokenAsDoubleQuestionMark()
    {
        Assert.Equal(" \u2047 ", Tokenizer.Decode([0]));
    }

    [Fact]
    public void DecodeRejectsIdOutsideVocabulary()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Tokenizer.Decode([32000]));
    }

    [Fact]
    public void IdToPieceGivesStreamingText()
    {
        Assert.Equal(" Hello", Tokenizer.IdToPiece(Id("▁Hello")));
        Assert.Equal("\n", Tokenizer.IdToPiece(Id("<0x0A>")));
        Assert.Equal(string.Empty, Tokenizer.IdToPiece(2));
        Assert.Null(Tokenizer.IdToPiece(32000));
        Assert.Null(Tokenizer.IdToPiece(-1));
    }

    [Fact]
    public void LlamaModelReportsVocabularyAndSpecialIds()
    {
        Assert.Equal(32000, Tokenizer.VocabularySize);
        Assert.Equal(1, Tokenizer.BosId);
        Assert.Equal(2, Tokenizer.EosId);
        Assert.Null(Tokenizer.PadId);
        Assert.Equal(0, Tokenizer.UnknownId);
        Assert.True(Tokenizer.AddBosToken);
        Assert.False(Tokenizer.AddEosToken);
        Assert.Null(Tokenizer.ChatTemplate);
        Assert.Equal(Path.GetFullPath(LlamaReferenceCase.ModelPath), Tokenizer.SourcePath);
    }

    [Fact]
    public void TokenizerConfigBesideModelSetsBosEosAndChatTemplate()
    {
        using var dir = new TempDirectory();
        File.Copy(LlamaReferenceCase.ModelPath, dir["tokenizer.model"]);
        File.WriteAllText(dir["tokenizer_config.json"], """
            {"add_bos_token": false, "add_eos_token": true,
             "bos_token": {"__type": "AddedToken", "content": "<s>"}, "eos_token": "</s>", "pad_token": null,
             "chat_template": "{{ messages }}"}
            """);

        TextTokenizer tokenizer = TextTokenizer.Load(dir.Path);

        Assert.IsType<SentencePieceTokenizer>(tokenizer);
        Assert.False(tokenizer.AddBosToken);
        Assert.True(tokenizer.AddEosToken);
        Assert.Equal(1, tokenizer.BosId);
        Assert.Equal(2, tokenizer.EosId);
        Assert.Equal("{{ messages }}", tokenizer.ChatTemplate);
        Assert.Equal(dir["tokenizer.model"], tokenizer.SourcePath);
        Assert.Equal(dir["tokenizer_config.json"], tokenizer.ConfigPath);
    }
}
