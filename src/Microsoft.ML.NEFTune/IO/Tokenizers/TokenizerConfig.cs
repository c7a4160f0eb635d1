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
                ChatTemplate = ReadChatTemplate(root, path),
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

    private static string? ReadChatTemplate(JsonElement root, string path)
    {
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
                // A list of named templates: [{"name": "default", "template": "..."}, ...].
                string? first = null;
                foreach (JsonElement item in value.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.Object ||
                        !item.TryGetProperty("template", out JsonElement template) || template.ValueKind != JsonValueKind.String)
                    {
                        throw new TokenizerFormatException(path, "'chat_template' list entries must be objects with a string 'template'");
                    }

                    first ??= template.GetString();
                    if (item.TryGetProperty("name", out JsonElement itemName) && itemName.ValueKind == JsonValueKind.String && itemName.GetString() == "default")
                    {
                        return template.GetString();
                    }
                }

                return first;
            default:
                throw new TokenizerFormatException(path, "'chat_template' must be a string or a list of named templates");
        }
    }
}
