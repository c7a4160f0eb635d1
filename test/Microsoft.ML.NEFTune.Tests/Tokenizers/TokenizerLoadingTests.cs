using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.IO.Tokenizers;

namespace Microsoft.ML.NEFTune.Tests.Tokenizers;

public sealed class TokenizerLoadingTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void LoadOfModelFileGivesSentencePieceTokenizer()
    {
        TextTokenizer tokenizer = TextTokenizer.Load(LlamaReferenceCase.ModelPath);

        Assert.IsType<SentencePieceTokenizer>(tokenizer);
        Assert.Equal([835], tokenizer.Encode("###"));
    }

    [Fact]
    public void LoadOfDirectoryPrefersTokenizerJsonOverSentencePieceModelAsAutoTokenizerDoes()
    {
        File.Copy(LlamaReferenceCase.ModelPath, _dir["tokenizer.model"]);
        TinyByteLevelTokenizerJson.Write(_dir, TinyByteLevelTokenizerJson.Build());

        TextTokenizer tokenizer = TextTokenizer.Load(_dir.Path);

        Assert.IsType<ByteLevelBpeTokenizer>(tokenizer);
        Assert.Equal(_dir["tokenizer.json"], tokenizer.SourcePath);
    }

    [Fact]
    public void LoadOfDirectoryFallsBackToSentencePieceModelWhenTokenizerJsonCannotBeRead()
    {
        File.Copy(LlamaReferenceCase.ModelPath, _dir["tokenizer.model"]);
        File.WriteAllText(_dir["tokenizer.json"], """{"model": {"type": "Unigram", "vocab": []}}""");

        TextTokenizer tokenizer = TextTokenizer.Load(_dir.Path);

        Assert.IsType<SentencePieceTokenizer>(tokenizer);
        Assert.Equal(_dir["tokenizer.model"], tokenizer.SourcePath);
    }

    [Fact]
    public void LoadOfJsonFileGivesByteLevelTokenizer()
    {
        string path = TinyByteLevelTokenizerJson.Write(_dir, TinyByteLevelTokenizerJson.Build(), "custom.json");

        Assert.IsType<ByteLevelBpeTokenizer>(TextTokenizer.Load(path));
    }

    [Fact]
    public void MissingPathThrowsFileNotFoundNamingIt()
    {
        string missing = _dir["nothing-here.model"];

        var fromLoad = Assert.Throws<FileNotFoundException>(() => TextTokenizer.Load(missing));
        var fromModel = Assert.Throws<FileNotFoundException>(() => SentencePieceTokenizer.FromFile(missing));
        var fromJson = Assert.Throws<FileNotFoundException>(() => ByteLevelBpeTokenizer.FromFile(missing));

        Assert.Contains(missing, fromLoad.Message);
        Assert.Contains(missing, fromModel.Message);
        Assert.Contains(missing, fromJson.Message);
    }

    [Fact]
    public void DirectoryWithoutTokenizerFilesThrowsFileNotFoundNamingIt()
    {
        var error = Assert.Throws<FileNotFoundException>(() => TextTokenizer.Load(_dir.Path));

        Assert.Contains(_dir.Path, error.Message);
    }

    [Fact]
    public void EmptyModelFileThrowsFormatError()
    {
        File.WriteAllBytes(_dir["tokenizer.model"], []);

        AssertFormatError(_dir["tokenizer.model"], () => SentencePieceTokenizer.FromFile(_dir["tokenizer.model"]));
    }

    [Fact]
    public void TruncatedModelThrowsFormatError()
    {
        byte[] bytes = File.ReadAllBytes(LlamaReferenceCase.ModelPath);
        foreach (int length in new[] { 1, 2, 3, 100, 1001, bytes.Length / 2, bytes.Length - 1 })
        {
            string path = _dir[$"truncated-{length}.model"];
            File.WriteAllBytes(path, bytes[..length]);

            AssertFormatError(path, () => SentencePieceTokenizer.FromFile(path));
        }
    }

    [Fact]
    public void JsonFileGivenAsModelThrowsFormatError()
    {
        string path = _dir["tokenizer.model"];
        File.WriteAllText(path, TinyByteLevelTokenizerJson.Build().ToJsonString());

        AssertFormatError(path, () => TextTokenizer.Load(path));
    }

    [Fact]
    public void RandomBytesThrowFormatError()
    {
        var random = new Random(1234);
        for (int i = 0; i < 50; i++)
        {
            byte[] bytes = new byte[random.Next(1, 4096)];
            random.NextBytes(bytes);
            string path = _dir[$"random-{i}.model"];
            File.WriteAllBytes(path, bytes);

            AssertFormatError(path, () => SentencePieceTokenizer.FromFile(path));
        }
    }

    [Fact]
    public void TokenizerJsonWithNonBpeModelThrowsFormatError()
    {
        JsonObject json = TinyByteLevelTokenizerJson.Build();
        json["model"] = new JsonObject { ["type"] = "WordPiece", ["unk_token"] = "[UNK]", ["vocab"] = new JsonObject { ["[UNK]"] = 0 } };
        string path = TinyByteLevelTokenizerJson.Write(_dir, json);

        var error = AssertFormatError(path, () => TextTokenizer.Load(path));
        Assert.Contains("WordPiece", error.Message);
    }

    [Fact]
    public void TokenizerJsonWithoutByteLevelPreTokenizerThrowsFormatError()
    {
        JsonObject json = TinyByteLevelTokenizerJson.Build();
        json["pre_tokenizer"] = new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = "first", ["split"] = false };
        string path = TinyByteLevelTokenizerJson.Write(_dir, json);

        AssertFormatError(path, () => ByteLevelBpeTokenizer.FromFile(path));
    }

    [Fact]
    public void MalformedTokenizerJsonThrowsFormatError()
    {
        string path = _dir["tokenizer.json"];
        File.WriteAllText(path, "{\"model\": {\"type\": \"BPE\", \"vocab\": ");

        AssertFormatError(path, () => ByteLevelBpeTokenizer.FromFile(path));
    }

    [Fact]
    public void MalformedTokenizerConfigThrowsFormatErrorNamingConfig()
    {
        File.Copy(LlamaReferenceCase.ModelPath, _dir["tokenizer.model"]);
        File.WriteAllText(_dir["tokenizer_config.json"], "{\"add_bos_token\": \"yes\"}");

        AssertFormatError(_dir["tokenizer_config.json"], () => TextTokenizer.Load(_dir.Path));
    }

    private static TokenizerFormatException AssertFormatError(string path, Func<object> load)
    {
        var error = Assert.Throws<TokenizerFormatException>(load);
        Assert.Equal(Path.GetFullPath(path), Path.GetFullPath(error.File));
        Assert.Contains(error.File, error.Message);
        return error;
    }
}
