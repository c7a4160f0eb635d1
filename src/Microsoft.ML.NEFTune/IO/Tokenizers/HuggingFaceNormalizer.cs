using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Microsoft.ML.NEFTune.IO.Tokenizers;

/// <summary>
/// The <c>normalizer</c> of a Hugging Face <c>tokenizer.json</c>: <c>NFC</c>, <c>NFD</c>, <c>NFKC</c>,
/// <c>NFKD</c>, <c>Lowercase</c>, <c>Prepend</c>, <c>Replace</c>, <c>Strip</c> and <c>Sequence</c> of these.
/// </summary>
internal sealed class HuggingFaceNormalizer
{
    private readonly List<Func<string, string>> _steps;

    private HuggingFaceNormalizer(List<Func<string, string>> steps)
    {
        _steps = steps;
    }

    public string Normalize(string text)
    {
        foreach (Func<string, string> step in _steps)
        {
            text = step(text);
        }

        return text;
    }

    /// <summary>Builds the normalizer described by <paramref name="spec"/>; null or a JSON null means none.</summary>
    public static HuggingFaceNormalizer? Parse(JsonElement? spec, string path)
    {
        if (spec is null || spec.Value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        var steps = new List<Func<string, string>>();
        AddSteps(spec.Value, steps, path);
        return new HuggingFaceNormalizer(steps);
    }

    private static void AddSteps(JsonElement spec, List<Func<string, string>> steps, string path)
    {
        string type = HuggingFaceJson.GetType(spec, "normalizer", path);
        switch (type)
        {
            case "Sequence":
                foreach (JsonElement item in HuggingFaceJson.GetArray(spec, "normalizers", path).EnumerateArray())
                {
                    AddSteps(item, steps, path);
                }

                break;
            case "NFC":
                steps.Add(static s => s.Normalize(NormalizationForm.FormC));
                break;
            case "NFD":
                steps.Add(static s => s.Normalize(NormalizationForm.FormD));
                break;
            case "NFKC":
                steps.Add(static s => s.Normalize(NormalizationForm.FormKC));
                break;
            case "NFKD":
                steps.Add(static s => s.Normalize(NormalizationForm.FormKD));
                break;
            case "Lowercase":
                steps.Add(static s => s.ToLowerInvariant());
                break;
            case "Prepend":
                string prepend = HuggingFaceJson.GetString(spec, "prepend", path);
                steps.Add(s => s.Length == 0 ? s : prepend + s);
                break;
            case "Replace":
                Regex pattern = HuggingFaceJson.GetPattern(spec, path);
                string content = HuggingFaceJson.GetString(spec, "content", path);
                steps.Add(s => pattern.Replace(s, content.Replace("$", "$$", StringComparison.Ordinal)));
                break;
            case "Strip":
                bool left = HuggingFaceJson.GetBool(spec, "strip_left", defaultValue: true);
                bool right = HuggingFaceJson.GetBool(spec, "strip_right", defaultValue: true);
                steps.Add(s => left && right ? s.Trim() : left ? s.TrimStart() : right ? s.TrimEnd() : s);
                break;
            default:
                throw new TokenizerFormatException(path, $"normalizer type '{type}' is not supported");
        }
    }
}
