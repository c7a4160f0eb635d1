using System.Text.Json;

namespace Microsoft.ML.NEFTune.IO.Tokenizers;

/// <summary>
/// The settings of a Hugging Face <c>tokenizer_config.json</c> that the tokenizers use:
/// <c>add_bos_token</c>, <c>add_eos_token</c>, the <c>bos_token</c>/<c>eos_token</c>/<c>pad_token</c>
/// strings (plain or <c>{"content": ...}</c> objects) and <c>chat_template</c>.
/// </summary>
internal sealed class TokenizerConfig
{
    public const string FileName = "tokenizer_config.json";

    public required string FilePath { get; init; }

    public bool? AddBosToken { get; init; }

    public bool? AddEosToken { get; init; }

    public string? BosToken { get; init; }

    public string? EosToken { get; init; }

    public string? PadToken { get; init; }

    public string? ChatTemplate { get; init; }

    /// <summary>The <c>tokenizer_class</c>, e.g. <c>LlamaTokenizerFast</c>.</summary>
    public string? TokenizerClass { get; init; }

    /// <summary>
    /// The <c>legacy</c> flag of transformers' Llama tokenizers (null when absent, which transformers reads as true): when
    /// false, text after a special token gets no SentencePiece dummy prefix.
    /// </summary>
    public bool? Legacy { get; init; }

    /// <summary>
    /// Whether transformers replaces the <c>post_processor</c> of <c>tokenizer.json</c> by one built from
    /// <c>add_bos_token</c>/<c>add_eos_token</c>: when either flag is written in the file (transformers 5's
    /// <c>TokenizersBackend</c>), and always for the Llama, Code Llama and Gemma tokenizer classes (their
    /// <c>update_post_processor</c>, which transformers 4 ran in their <c>__init__</c>).
    /// </summary>
    public bool RebuildsPostProcessor => AddBosToken is not null || AddEosToken is not null || IsLlamaOrGemmaClass;

    /// <summary>Whether <see cref="TokenizerClass"/> is a Llama, Code Llama or Gemma tokenizer, whose <c>add_bos_token</c> defaults to true.</summary>
    public bool IsLlamaOrGemmaClass => TokenizerClass is "LlamaTokenizer" or "LlamaTokenizerFast" or "CodeLlamaTokenizer"
        or "CodeLlamaTokenizerFast" or "GemmaTokenizer" or "GemmaTokenizerFast";

    /// <summary>The <c>added_tokens_decoder</c> entries with their ids and flags.</summary>
    public IReadOnlyList<HuggingFaceAddedToken> AddedTokens { get; init; } = Array.Empty<HuggingFaceAddedToken>();

    /// <summary>Why <see cref="ChatTemplate"/> is null although the file has a <c>chat_template</c> (a named list without "default").</summary>
    public string? ChatTemplateProblem { get; init; }

    /// <summary>The other special token strings transformers passes to chat templates: <c>unk_token</c>, <c>sep_token</c>, <c>cls_token</c>, <c>mask_token</c>.</summary>
    public IReadOnlyDictionary<string, string> OtherSpecialTokens { get; init; } = new Dictionary<string, string>();

    /// <summary>The <c>additional_special_tokens</c> list (contents).</summary>
    public IReadOnlyList<string> AdditionalSpecialTokens { get; init; } = Array.Empty<string>();

    /// <summary>The contents of the <c>added_tokens_decoder</c> entries marked <c>"special": true</c>.</summary>
    public IReadOnlyList<string> SpecialAddedTokens { get; init; } = Array.Empty<string>();

    /// <summary>Reads the <c>tokenizer_config.json</c> in the folder of <paramref name="tokenizerFile"/>, or returns null when there is none.</summary>
    public static TokenizerConfig? LoadBeside(string tokenizerFile)
    {
        string? directory = Path.GetDirectoryName(Path.GetFullPath(tokenizerFile));
        if (directory is null)
        {
            return null;
        }

        string path = Path.Combine(directory, FileName);
        return File.Exists(path) ? Load(path) : null;
    }

    public static TokenizerConfig Load(string path)
    {
        try
        {
            using FileStream stream = File.OpenRead(path);
            using JsonDocument document = JsonDocument.Parse(stream, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new TokenizerFormatException(path, "the top-level JSON value is not an object");
            }

            return new TokenizerConfig
            {
                FilePath = path,
                AddBosToken = ReadBool(root, "add_bos_token", path),
                AddEosToken = ReadBool(root, "add_eos_token", path),
                BosToken = ReadToken(root, "bos_token", path),
                EosToken = ReadToken(root, "eos_token", path),
                PadToken = ReadToken(root, "pad_token", path),
                ChatTemplate = ReadChatTemplate(root, path, out string? templateProblem),
                ChatTemplateProblem = templateProblem,
                OtherSpecialTokens = new[] { "unk_token", "sep_token", "cls_token", "mask_token" }
                    .Select(name => (name, value: ReadToken(root, name, path)))
                    .Where(p => !string.IsNullOrEmpty(p.value))
                    .ToDictionary(p => p.name, p => p.value!),
                AdditionalSpecialTokens = ReadTokenList(root, "additional_special_tokens", path),
                SpecialAddedTokens = ReadSpecialAddedTokens(root, path),
                TokenizerClass = root.TryGetProperty("tokenizer_class", out JsonElement tokenizerClass) && tokenizerClass.ValueKind == JsonValueKind.String ? tokenizerClass.GetString() : null,
                Legacy = ReadBool(root, "legacy", path),
                AddedTokens = ReadAddedTokens(root, path),
            };
        }
        catch (JsonException ex)
        {
            throw new TokenizerFormatException(path, $"not valid JSON ({ex.Message})", ex);
        }
    }

    private static bool? ReadBool(JsonElement root, string name, string path)
    {
        if (!root.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new TokenizerFormatException(path, $"'{name}' must be true or false"),
        };
    }

    private static string? ReadToken(JsonElement root, string name, string path)
    {
        if (!root.TryGetProperty(name, out JsonElement value))
        {
            return null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.Null => null,
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Object when value.TryGetProperty("content", out JsonElement content) && content.ValueKind == JsonValueKind.String => content.GetString(),
            _ => throw new TokenizerFormatException(path, $"'{name}' must be a string or an object with a string 'content'"),
        };
    }

    private static IReadOnlyList<string> ReadTokenList(JsonElement root, string name, string path)
    {
        if (!root.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return Array.Empty<string>();
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            throw new TokenizerFormatException(path, $"'{name}' must be a list of tokens");
        }

        return value.EnumerateArray().Select(item => item.ValueKind switch
        {
            JsonValueKind.String => item.GetString()!,
            JsonValueKind.Object when item.TryGetProperty("content", out JsonElement content) && content.ValueKind == JsonValueKind.String => content.GetString()!,
            _ => throw new TokenizerFormatException(path, $"'{name}' entries must be strings or objects with a string 'content'"),
        }).ToArray();
    }

    private static IReadOnlyList<string> ReadSpecialAddedTokens(JsonElement root, string path)
    {
        if (!root.TryGetProperty("added_tokens_decoder", out JsonElement value) || value.ValueKind != JsonValueKind.Object)
        {
            return Array.Empty<string>();
        }

        var result = new List<string>();
        foreach (JsonProperty entry in value.EnumerateObject())
        {
            if (entry.Value.ValueKind == JsonValueKind.Object &&
                entry.Value.TryGetProperty("special", out JsonElement special) && special.ValueKind == JsonValueKind.True &&
                entry.Value.TryGetProperty("content", out JsonElement content) && content.ValueKind == JsonValueKind.String)
            {
                result.Add(content.GetString()!);
            }
        }

        return result;
    }

    private static IReadOnlyList<HuggingFaceAddedToken> ReadAddedTokens(JsonElement root, string path)
    {
        if (!root.TryGetProperty("added_tokens_decoder", out JsonElement value) || value.ValueKind != JsonValueKind.Object)
        {
            return Array.Empty<HuggingFaceAddedToken>();
        }

        var result = new List<HuggingFaceAddedToken>();
        foreach (JsonProperty entry in value.EnumerateObject())
        {
            if (!int.TryParse(entry.Name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int id) ||
                entry.Value.ValueKind != JsonValueKind.Object ||
                HuggingFaceJson.GetOptionalString(entry.Value, "content") is not { Length: > 0 } content)
            {
                throw new TokenizerFormatException(path, $"'added_tokens_decoder' entry '{entry.Name}' needs a non-negative integer key and a non-empty 'content'");
            }

            result.Add(new HuggingFaceAddedToken(
                id,
                content,
                HuggingFaceJson.GetBool(entry.Value, "special", defaultValue: false),
                HuggingFaceJson.GetBool(entry.Value, "lstrip", defaultValue: false),
                HuggingFaceJson.GetBool(entry.Value, "rstrip", defaultValue: false),
                HuggingFaceJson.GetBool(entry.Value, "single_word", defaultValue: false)));
        }

        return result;
    }

    private static string? ReadChatTemplate(JsonElement root, string path, out string? problem)
    {
        problem = null;
        if (!root.TryGetProperty("chat_template", out JsonElement value))
        {
            return null;
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.Null:
                return null;
            case JsonValueKind.String:
                return value.GetString();
            case JsonValueKind.Array:
                // A list of named templates: [{"name": "default", "template": "..."}, ...]; transformers uses "default".
                var names = new List<string>();
                foreach (JsonElement item in value.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.Object ||
                        !item.TryGetProperty("template", out JsonElement template) || template.ValueKind != JsonValueKind.String)
                    {
                        throw new TokenizerFormatException(path, "'chat_template' list entries must be objects with a string 'template'");
                    }

                    string? name = item.TryGetProperty("name", out JsonElement itemName) && itemName.ValueKind == JsonValueKind.String ? itemName.GetString() : null;
                    if (name == "default")
                    {
                        return template.GetString();
                    }

                    names.Add(name ?? "(unnamed)");
                }

                problem = $"the 'chat_template' list has no template named 'default' (it has: {string.Join(", ", names)})";
                return null;
            default:
                throw new TokenizerFormatException(path, "'chat_template' must be a string or a list of named templates");
        }
    }
}
