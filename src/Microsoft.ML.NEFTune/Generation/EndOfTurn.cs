using System.Text.Json;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.IO.Tokenizers;
using Microsoft.ML.NEFTune.Modeling;

namespace Microsoft.ML.NEFTune.Generation;

/// <summary>
/// Where a chat answer ends, as Hugging Face <c>generate</c> decides it for a chat model: at any end-of-sequence id of
/// the model (<c>config.json</c> and <c>generation_config.json</c>'s <c>eos_token_id</c>, one id or a list) and at the
/// template's end-of-turn markers (<see cref="PromptTemplate.EndOfTurnStrings"/>, such as <c>&lt;|eot_id|&gt;</c> or
/// <c>&lt;|im_end|&gt;</c>, and the tokenizer's EOS for a model's own chat template).
/// </summary>
/// <remarks>
/// A marker that is a special token of the tokenizer decodes to no text, so it is matched by id; any other marker (such
/// as Alpaca's <c>### Instruction:</c>) is matched in the decoded text and cut off.
/// </remarks>
/// <param name="Ids">Ids that end an answer besides the model's end-of-sequence ids: <c>generation_config.json</c>'s
/// <c>eos_token_id</c> and the markers that are special tokens.</param>
/// <param name="Strings">Markers matched in the decoded text.</param>
public sealed record EndOfTurn(IReadOnlyList<int> Ids, IReadOnlyList<string> Strings)
{
    /// <summary>The file of a Hugging Face model folder with its default decoding settings.</summary>
    public const string GenerationConfigFileName = "generation_config.json";

    /// <summary>
    /// The end of an answer under <paramref name="template"/> with <paramref name="tokenizer"/>; reads the
    /// <c>generation_config.json</c> in the tokenizer's folder once.
    /// </summary>
    /// <exception cref="InvalidDataException">That <c>generation_config.json</c> is not valid JSON or its <c>eos_token_id</c> is not an id or a list of ids.</exception>
    public static EndOfTurn Of(PromptTemplate template, TextTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(tokenizer);
        var ids = new List<int>(GenerationConfigEosIds(tokenizer));
        var strings = new List<string>();
        foreach (var marker in template.EndOfTurnStrings.Where(m => m.Length > 0))
        {
            if (tokenizer.TokenToId(marker) is int id && id < tokenizer.VocabularySize && tokenizer.Decode(new[] { id }).Length == 0) ids.Add(id);
            else strings.Add(marker);
        }

        return new EndOfTurn(ids, strings);
    }

    /// <summary>
    /// <paramref name="options"/> with these markers added to its stop strings, and its end-of-sequence ids (the
    /// model's, <paramref name="config"/>, when unset) joined by <see cref="Ids"/>.
    /// </summary>
    public GenerationOptions ApplyTo(GenerationOptions options, LlamaConfig config)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(config);
        return options with
        {
            StopStrings = Strings.Concat(options.StopStrings).Where(s => s.Length > 0).Distinct().ToArray(),
            EosTokenIds = (options.EosTokenIds ?? config.EosTokenIds).Concat(Ids).Distinct().ToArray(),
        };
    }

    /// <summary><c>Of(template, tokenizer).ApplyTo(options, config)</c>.</summary>
    /// <exception cref="InvalidDataException">The tokenizer folder's <c>generation_config.json</c> is not valid JSON or its <c>eos_token_id</c> is not an id or a list of ids.</exception>
    public static GenerationOptions Apply(GenerationOptions options, PromptTemplate template, TextTokenizer tokenizer, LlamaConfig config) =>
        Of(template, tokenizer).ApplyTo(options, config);

    /// <summary>The <c>eos_token_id</c> of the <c>generation_config.json</c> beside the tokenizer's files; empty when there is none.</summary>
    internal static IReadOnlyList<int> GenerationConfigEosIds(TextTokenizer tokenizer)
    {
        if (tokenizer.FolderPath is not { } folder) return Array.Empty<int>();
        string path = Path.Combine(folder, GenerationConfigFileName);
        if (!File.Exists(path)) return Array.Empty<int>();
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("eos_token_id", out var eos)) return Array.Empty<int>();
            return eos.ValueKind switch
            {
                JsonValueKind.Null => Array.Empty<int>(),
                JsonValueKind.Array => eos.EnumerateArray().Select(e => e.GetInt32()).ToArray(),
                _ => new[] { eos.GetInt32() },
            };
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: 'eos_token_id' must be a token id or a list of token ids ({e.Message}).", e);
        }
    }
}
