using System.Text.Json;
using System.Text.RegularExpressions;

namespace Microsoft.ML.NEFTune.IO.Tokenizers;

/// <summary>Typed reads of <c>tokenizer.json</c> elements that report problems as <see cref="TokenizerFormatException"/>.</summary>
internal static class HuggingFaceJson
{
    public static string GetType(JsonElement spec, string what, string path)
    {
        if (spec.ValueKind != JsonValueKind.Object ||
            !spec.TryGetProperty("type", out JsonElement type) || type.ValueKind != JsonValueKind.String)
        {
            throw new TokenizerFormatException(path, $"a {what} entry has no 'type'");
        }

        return type.GetString()!;
    }

    public static JsonElement GetArray(JsonElement spec, string name, string path)
    {
        if (!spec.TryGetProperty(name, out JsonElement value) || value.ValueKind != JsonValueKind.Array)
        {
            throw new TokenizerFormatException(path, $"'{name}' must be a list");
        }

        return value;
    }

    public static string GetString(JsonElement spec, string name, string path)
    {
        if (!spec.TryGetProperty(name, out JsonElement value) || value.ValueKind != JsonValueKind.String)
        {
            throw new TokenizerFormatException(path, $"'{name}' must be a string");
        }

        return value.GetString()!;
    }

    public static string? GetOptionalString(JsonElement spec, string name)
        => spec.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public static bool GetBool(JsonElement spec, string name, bool defaultValue)
        => spec.TryGetProperty(name, out JsonElement value) && value.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? value.GetBoolean()
            : defaultValue;

    /// <summary>Reads a <c>pattern</c> of the form <c>{"String": "..."}</c> or <c>{"Regex": "..."}</c>.</summary>
    public static Regex GetPattern(JsonElement spec, string path)
    {
        if (spec.TryGetProperty("pattern", out JsonElement pattern) && pattern.ValueKind == JsonValueKind.Object)
        {
            if (pattern.TryGetProperty("String", out JsonElement literal) && literal.ValueKind == JsonValueKind.String)
            {
                return new Regex(Regex.Escape(literal.GetString()!), RegexOptions.CultureInvariant);
            }

            if (pattern.TryGetProperty("Regex", out JsonElement regex) && regex.ValueKind == JsonValueKind.String)
            {
                try
                {
                    return new Regex(regex.GetString()!, RegexOptions.Compiled | RegexOptions.CultureInvariant);
                }
                catch (ArgumentException ex)
                {
                    throw new TokenizerFormatException(path, $"the pattern '{regex.GetString()}' is not a supported regular expression ({ex.Message})", ex);
                }
            }
        }

        throw new TokenizerFormatException(path, "'pattern' must be {\"String\": ...} or {\"Regex\": ...}");
    }
}

/// <summary>An entry of <c>added_tokens</c> in a Hugging Face <c>tokenizer.json</c>.</summary>
internal sealed record HuggingFaceAddedToken(int Id, string Content, bool Special, bool LStrip, bool RStrip, bool SingleWord);
