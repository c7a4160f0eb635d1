using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.IO.Tokenizers;
using static Microsoft.ML.NEFTune.Tests.Tokenizers.TinyByteLevelTokenizerJson;

namespace Microsoft.ML.NEFTune.Tests.Tokenizers;

public sealed class ByteLevelBpeTokenizerTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private ByteLevelBpeTokenizer Load(JsonObject json) => ByteLevelBpeTokenizer.FromFile(Write(_dir, json));

    [Fact]
    public void WordsMergeByRankWithinGpt2PreTokens()
    {
        ByteLevelBpeTokenizer tokenizer = Load(Build());

        // "hello" | " world": h e l l o -> he ll -> hell o -> hello; Ġ w o r l d -> Ġw or -> Ġwor ld -> Ġworld.
        Assert.Equal([Hello, SpaceWorld], tokenizer.Encode("hello world"));
    }

    [Fact]
    public void RepeatedCharacterRunMergesLeftPairFirst()
    {
        ByteLevelBpeTokenizer tokenizer = Load(Build());

        Assert.Equal([DoubleA, 'a'], tokenizer.Encode("aaa"));
        Assert.Equal([DoubleA, DoubleA, 'a'], tokenizer.Encode("aaaaa"));
    }

    [Fact]
    public void NonAsciiTextEncodesAsUtf8Bytes()
    {
        ByteLevelBpeTokenizer tokenizer = Load(Build());

        Assert.Equal([0xC3, 0xA9], tokenizer.Encode("é"));
        Assert.Equal(['x', ' ', ' ', 'y', '\n'], tokenizer.Encode("x  y\n"));
    }

    [Fact]
    public void AddedTokensAreSplitOutBeforeBpe()
    {
        ByteLevelBpeTokenizer tokenizer = Load(Build());

        Assert.Equal(['h', 'i', EndOfText, Hello, Note], tokenizer.Encode("hi<|endoftext|>hello[NOTE]"));
    }

    [Fact]
    public void DecodeSkipsSpecialTokensAndKeepsOtherAddedTokens()
    {
        ByteLevelBpeTokenizer tokenizer = Load(Build());

        Assert.Equal("hello world[NOTE]", tokenizer.Decode([Hello, EndOfText, SpaceWorld, Note]));
    }

    [Fact]
    public void DecodeOfEncodeReturnsTheText()
    {
        ByteLevelBpeTokenizer tokenizer = Load(Build());
        const string text = "naïve café 🤖\n\ttabs  and  spaces, aaa hello world!";

        Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
    }

    [Fact]
    public void IdToPieceGivesByteLevelTokenText()
    {
        ByteLevelBpeTokenizer tokenizer = Load(Build());

        Assert.Equal(" world", tokenizer.IdToPiece(SpaceWorld));
        Assert.Equal(string.Empty, tokenizer.IdToPiece(EndOfText));
        Assert.Null(tokenizer.IdToPiece(tokenizer.VocabularySize));
    }

    [Fact]
    public void AddPrefixSpacePrependsSpaceToText()
    {
        ByteLevelBpeTokenizer tokenizer = Load(Build(ByteLevel(addPrefixSpace: true, useRegex: true)));

        Assert.Equal([' ', Hello], tokenizer.Encode("hello"));
    }

    [Fact]
    public void IgnoreMergesEmitsWholeVocabularyWordsOfSplitPreTokenizer()
    {
        var split = new JsonObject
        {
            ["type"] = "Sequence",
            ["pretokenizers"] = new JsonArray(
                new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = @" ?\p{L}+|\s+" }, ["behavior"] = "Isolated", ["invert"] = false },
                ByteLevel(addPrefixSpace: false, useRegex: false)),
        };

        Assert.Equal([Xyz, SpaceWorld], Load(Build(split, ignoreMerges: true)).Encode("xyz world"));
        Assert.Equal(['x', 'y', 'z', SpaceWorld], Load(Build(split.DeepClone(), ignoreMerges: false)).Encode("xyz world"));
    }

    [Fact]
    public void SplitIsolatedKeepsTextBetweenMatches()
    {
        var digitsOnly = new JsonObject
        {
            ["type"] = "Sequence",
            ["pretokenizers"] = new JsonArray(
                new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = @"\d+" }, ["behavior"] = "Isolated", ["invert"] = false },
                ByteLevel(addPrefixSpace: false, useRegex: false)),
        };

        ByteLevelBpeTokenizer tokenizer = Load(Build(digitsOnly));

        Assert.Equal("hello 42 world", tokenizer.Decode(tokenizer.Encode("hello 42 world")));
        Assert.Equal([Hello, SpaceWorld], tokenizer.Encode("hello world"));
    }

    [Fact]
    public void SingleWordAddedTokenMatchesOnlyStandaloneWords()
    {
        JsonObject json = Build();
        json["added_tokens"]!.AsArray().Add(new JsonObject { ["id"] = 269, ["content"] = "cat", ["special"] = false, ["single_word"] = true });

        Assert.Equal([269, ' ', 'c', 'o', 'n', 'c', 'a', 't'], Load(json).Encode("cat concat"));
    }

    [Fact]
    public void LStripAddedTokenAbsorbsPrecedingWhitespace()
    {
        JsonObject json = Build();
        json["added_tokens"]!.AsArray().Add(new JsonObject { ["id"] = 269, ["content"] = "<mask>", ["special"] = true, ["lstrip"] = true });

        Assert.Equal([Hello, 269], Load(json).Encode("hello  <mask>"));
    }

    [Fact]
    public void NfcNormalizerComposesBeforeEncoding()
    {
        JsonObject json = Build();
        json["normalizer"] = new JsonObject { ["type"] = "NFC" };

        Assert.Equal([0xC3, 0xA9], Load(json).Encode("e\u0301"));
    }

    [Fact]
    public void SplitPatternClassifiesCharactersOutsideBmpByCategory()
    {
        // Keep only letter runs; U+1D400 MATHEMATICAL BOLD CAPITAL A is a letter (UTF-8 F0 9D 90 80).
        var lettersOnly = new JsonObject
        {
            ["type"] = "Sequence",
            ["pretokenizers"] = new JsonArray(
                new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = @"\p{L}+" }, ["behavior"] = "Removed", ["invert"] = true },
                ByteLevel(addPrefixSpace: false, useRegex: false)),
        };

        Assert.Equal(['a', 0xF0, 0x9D, 0x90, 0x80, 'b'], Load(Build(lettersOnly)).Encode("a\U0001D400b!"));
    }

    [Fact]
    public void WithoutConfigNoBosIsAddedAndSpecialIdsAreUnknown()
    {
        ByteLevelBpeTokenizer tokenizer = Load(Build());

        Assert.False(tokenizer.AddBosToken);
        Assert.Null(tokenizer.BosId);
        Assert.Null(tokenizer.EosId);
        Assert.Equal(Xyz + 1, tokenizer.VocabularySize);
        Assert.Equal(_dir["tokenizer.json"], tokenizer.SourcePath);
    }

    [Fact]
    public void TokenizerConfigSuppliesSpecialTokensAndChatTemplate()
    {
        File.WriteAllText(_dir["tokenizer_config.json"], """
            {"add_bos_token": true, "bos_token": "<|endoftext|>", "eos_token": {"content": "<|endoftext|>"},
             "chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]}
            """);

        ByteLevelBpeTokenizer tokenizer = Load(Build());

        Assert.True(tokenizer.AddBosToken);
        Assert.Equal(EndOfText, tokenizer.BosId);
        Assert.Equal(EndOfText, tokenizer.EosId);
        Assert.Equal("D", tokenizer.ChatTemplate);
        Assert.Equal(EndOfText, tokenizer.TokenToId("<|endoftext|>"));
    }
}
