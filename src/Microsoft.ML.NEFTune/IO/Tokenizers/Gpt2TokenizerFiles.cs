using System.Text.Json;
using System.Text.Json.Nodes;

namespace Microsoft.ML.NEFTune.IO.Tokenizers;

/// <summary>
/// A GPT-2 style byte-level BPE tokenizer saved as <c>vocab.json</c> + <c>merges.txt</c> (the "slow"
/// <c>GPT2Tokenizer</c> files; OPT repositories ship only these). The files are read into the same description a
/// <c>tokenizer.json</c> gives — BPE model, GPT-2 byte-level pre-tokenizer, the special tokens of
/// <c>tokenizer_config.json</c> as added tokens — and served by <see cref="ByteLevelBpeTokenizer"/>.
/// OPT's <c>add_bos_token: true</c> with <c>bos_token "&lt;/s&gt;"</c> makes every encoded text start with <c>&lt;/s&gt;</c>, as HF does.
/// </summary>
public static class Gpt2TokenizerFiles
{
    public const string VocabFileName = "vocab.json";
    public const string MergesFileName = "merges.txt";

    /// <summary>True when <paramref name="directory"/> holds <c>vocab.json</c> and <c>merges.txt</c>.</summary>
    public static bool Exist(string directory) =>
        File.Exists(Path.Combine(directory, VocabFileName)) && File.Exists(Path.Combine(directory, MergesFileName));

    /// <summary>Loads the tokenizer of a folder with <c>vocab.json</c>, <c>merges.txt</c> and optionally <c>tokenizer_config.json</c>.</summary>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    /// <exception cref="TokenizerFormatException">A file cannot be used.</exception>
    public static ByteLevelBpeTokenizer Load(string directory)
    {
        string vocabPath = TextTokenizer.RequireFile(Path.Combine(directory, VocabFileName));
        string mergesPath = TextTokenizer.RequireFile(Path.Combine(directory, MergesFileName));
        JsonObject vocab;
        try
        {
            vocab = JsonNode.Parse(File.ReadAllText(vocabPath)) as JsonObject
                ?? throw new TokenizerFormatException(vocabPath, "the file is not a JSON object of token → id");
        }
        catch (JsonException ex)
        {
            throw new TokenizerFormatException(vocabPath, $"not valid JSON ({ex.Message})", ex);
        }

        var merges = new JsonArray();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(mergesPath))
        {
            lineNumber++;
            if (line.Length == 0 || (lineNumber == 1 && line.StartsWith("#version", StringComparison.Ordinal))) continue;
            string[] parts = line.Split(' ');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
                throw new TokenizerFormatException(mergesPath, $"line {lineNumber} is not a merge of two space-separated tokens");
            merges.Add(line);
        }

        var config = TokenizerConfig.LoadBeside(vocabPath);
        var (unk, addPrefixSpace) = ReadSlowTokenizerFields(config?.FilePath);
        var added = new JsonArray();
        foreach (string token in new[] { config?.BosToken, config?.EosToken, config?.PadToken, unk }.OfType<string>().Distinct())
        {
            if (vocab[token] is not JsonValue id || !id.TryGetValue<int>(out int value))
                throw new TokenizerFormatException(config!.FilePath, $"special token '{token}' is not in {VocabFileName}");
            added.Add(new JsonObject { ["id"] = value, ["content"] = token, ["special"] = true });
        }

        var description = new JsonObject
        {
            ["added_tokens"] = added,
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = addPrefixSpace, ["use_regex"] = true },
            ["model"] = new JsonObject { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = merges },
        };
        using JsonDocument document = JsonDocument.Parse(description.ToJsonString());
        return ByteLevelBpeTokenizer.Create(vocabPath, document.RootElement);
    }

    /// <summary><c>unk_token</c> and <c>add_prefix_space</c> (default false, as <c>GPT2Tokenizer</c>) of a <c>tokenizer_config.json</c>.</summary>
    private static (string? Unk, bool AddPrefixSpace) ReadSlowTokenizerFields(string? configPath)
    {
        if (configPath is null) return (null, false);
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(configPath), new JsonDocumentOptions { AllowTrailingCommas = true });
        var root = doc.RootElement;
        string? unk = root.TryGetProperty("unk_token", out var u) ? u.ValueKind switch
        {
            JsonValueKind.String => u.GetString(),
            JsonValueKind.Object when u.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
            JsonValueKind.Null => null,
            _ => throw new TokenizerFormatException(configPath, "'unk_token' must be a string or an object with a string 'content'"),
        } : null;
        bool prefix = root.TryGetProperty("add_prefix_space", out var a) && a.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False or JsonValueKind.Null => false,
            _ => throw new TokenizerFormatException(configPath, "'add_prefix_space' must be true or false"),
        };
        return (unk, prefix);
    }
}
