using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.IO.Tokenizers;

namespace Microsoft.ML.NEFTune.Tests.Tokenizers;

/// <summary>
/// Added tokens of tokenizer_config.json over a tokenizer.model (as Phi-3 ships them: ids after the model's pieces,
/// some with <c>rstrip</c>): matched in text with their flags, counted in the vocabulary, silent when special; a config
/// that contradicts the model is refused naming the token.
/// </summary>
public sealed class SentencePieceAddedTokenTests
{
    private static TextTokenizer Load(JsonObject addedTokens)
    {
        using var dir = new TempDirectory();
        File.Copy(LlamaReferenceCase.ModelPath, dir["tokenizer.model"]);
        var config = new JsonObject { ["bos_token"] = "<s>", ["eos_token"] = "</s>", ["unk_token"] = "<unk>", ["added_tokens_decoder"] = addedTokens };
        File.WriteAllText(dir["tokenizer_config.json"], config.ToJsonString());
        return TextTokenizer.Load(dir.Path);
    }

    private static JsonObject Token(string content, bool special, bool rstrip = false) =>
        new() { ["content"] = content, ["special"] = special, ["rstrip"] = rstrip, ["lstrip"] = false, ["single_word"] = false, ["normalized"] = false };

    [Fact]
    public void AddedTokensBeyondTheModelAreMatchedWithTheirFlags()
    {
        var tokenizer = Load(new JsonObject
        {
            ["32000"] = Token("<|end|>", special: true, rstrip: true),
            ["32001"] = Token("<|user|>", special: true),
            ["32002"] = Token("<|plain|>", special: false),
        });

        var ids = tokenizer.Encode("<|user|>\nHi<|end|>  \nBye<|plain|>");

        Assert.Equal(32003, tokenizer.VocabularySize);
        Assert.Equal([32001, .. tokenizer.Encode("\nHi"), 32000, .. tokenizer.Encode("Bye"), 32002], ids);
        Assert.Equal("Hi Bye<|plain|>", tokenizer.Decode(tokenizer.Encode("<|user|>Hi<|end|> Bye<|plain|>")));
    }

    [Fact]
    public void AnAddedTokenWhoseIdIsAnotherPieceIsRefused()
    {
        var ex = Assert.Throws<TokenizerFormatException>(() => Load(new JsonObject { ["100"] = Token("<|user|>", special: true) }));

        Assert.Contains("'<|user|>' has id 100", ex.Message);
    }

    [Fact]
    public void AnAddedTokenThatIsAPieceMustKeepItsId()
    {
        var ex = Assert.Throws<TokenizerFormatException>(() => Load(new JsonObject { ["5"] = Token("</s>", special: true) }));

        Assert.Contains("piece 2 of the model", ex.Message);
    }
}
