using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.IO.Tokenizers;

namespace Microsoft.ML.NEFTune.Tests.Tokenizers;

/// <summary>
/// The special tokens added around sequences when the files ask for something other than the real tokenizers' defaults:
/// transformers rebuilding the post-processor from add_bos_token/add_eos_token, the RoBERTa and BERT processors, and
/// the refusal of a processor type that is not supported.
/// </summary>
public sealed class PostProcessorTests
{
    private const int BeginOfText = 2323; // <|begin_of_text|> in the trimmed Llama 3 fixture (128000 in the full file)

    private static TextTokenizer Load(string name, Action<JsonObject>? editJson = null, Action<JsonObject>? editConfig = null)
    {
        using var dir = new TempDirectory();
        TokenizerJsonReference.Materialize(name, dir.Path);
        Edit(dir["tokenizer.json"], editJson);
        Edit(dir["tokenizer_config.json"], editConfig);
        return TextTokenizer.Load(dir.Path);
    }

    private static void Edit(string path, Action<JsonObject>? edit)
    {
        if (edit is null) return;
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
    }

    [Fact]
    public void AnExplicitAddBosTokenReplacesThePostProcessorOfTheFile()
    {
        // Qwen2.5's config says add_bos_token: false, so a processor in tokenizer.json does not count, as in transformers 5.
        var tokenizer = Load("qwen2_5", editJson: j => j["post_processor"] = new JsonObject { ["type"] = "BertProcessing", ["sep"] = new JsonArray("b", 7), ["cls"] = new JsonArray("c", 5) });

        Assert.Equal(tokenizer.Encode("Hi"), tokenizer.EncodeWithSpecialTokens("Hi"));
    }

    [Fact]
    public void AnExplicitAddEosTokenRebuildsThePostProcessorWithoutBos()
    {
        // transformers 5: a flag written in tokenizer_config.json rebuilds the template from both flags (add_bos_token defaults to false).
        var tokenizer = Load("llama3_1", editConfig: c => c["add_eos_token"] = true);

        Assert.Equal([.. tokenizer.Encode("Hi"), tokenizer.EosId!.Value], tokenizer.EncodeWithSpecialTokens("Hi"));
        Assert.False(tokenizer.AddBosToken);
        Assert.True(tokenizer.AddEosToken);
    }

    [Fact]
    public void ALlamaTokenizerClassAddsBosEvenWhenTheFileDoesNot()
    {
        // The Llama 3 file's post-processor adds nothing; transformers' LlamaTokenizerFast (add_bos_token default true) adds BOS.
        var plain = Load("llama3");
        var llamaClass = Load("llama3", editConfig: c => c["tokenizer_class"] = "LlamaTokenizerFast");

        Assert.Equal(plain.Encode("Hi"), plain.EncodeWithSpecialTokens("Hi"));
        Assert.Equal([BeginOfText, .. plain.Encode("Hi")], llamaClass.EncodeWithSpecialTokens("Hi"));
        Assert.Equal([BeginOfText, .. plain.Encode("Hi"), BeginOfText, .. plain.Encode("there")], llamaClass.EncodeWithSpecialTokens("Hi", "there"));
        Assert.True(llamaClass.AddBosToken);
    }

    [Theory]
    [InlineData("RobertaProcessing")]
    [InlineData("BertProcessing")]
    public void RobertaAndBertProcessorsWrapSequencesInClsAndSep(string type)
    {
        var tokenizer = Load("llama3", editJson: j => j["post_processor"] = new JsonObject
        {
            ["type"] = type, ["sep"] = new JsonArray("b", 7), ["cls"] = new JsonArray("c", 5), ["trim_offsets"] = true, ["add_prefix_space"] = false,
        });
        int[] a = [.. tokenizer.Encode("Hi")], b = [.. tokenizer.Encode("there")];

        Assert.Equal([5, .. a, 7], tokenizer.EncodeWithSpecialTokens("Hi"));
        Assert.Equal(type == "RobertaProcessing" ? [5, .. a, 7, 7, .. b, 7] : [5, .. a, 7, .. b, 7], tokenizer.EncodeWithSpecialTokens("Hi", "there"));
    }

    [Fact]
    public void AnUnsupportedPostProcessorIsRefusedByName()
    {
        var ex = Assert.Throws<TokenizerFormatException>(() => Load("llama3", editJson: j => j["post_processor"] = new JsonObject { ["type"] = "Sentencepiece" }));

        Assert.Contains("post_processor type 'Sentencepiece' is not supported", ex.Message);
    }

    [Fact]
    public void AUnigramTokenizerJsonIsRefusedByName()
    {
        var ex = Assert.Throws<TokenizerFormatException>(() => Load("mistral", editJson: j => j["model"]!["type"] = "Unigram"));

        Assert.Contains("'Unigram'", ex.Message);
    }
}
