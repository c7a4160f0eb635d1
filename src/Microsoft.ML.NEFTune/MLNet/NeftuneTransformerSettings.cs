using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Generation;

namespace Microsoft.ML.NEFTune;

/// <summary>
/// What a transformer needs besides its weights and tokenizer; stored as <c>neftune.json</c> beside them. Its decoding
/// settings are a <see cref="GenerationOptions"/> (the <c>generation</c> object); format 1 files, which held them as
/// top-level fields (<c>max_new_tokens</c> … <c>generation_seed</c>), are still read.
/// </summary>
internal sealed record NeftuneTransformerSettings
{
    public const string FileName = "neftune.json";

    /// <summary>The format this library writes: 2 (decoding settings nested under <c>generation</c>).</summary>
    public const int CurrentFormatVersion = 2;

    public int FormatVersion { get; init; } = CurrentFormatVersion;
    public string InstructionColumnName { get; init; } = NeftuneInstructionTuningOptions.DefaultInstructionColumnName;
    public string? InputColumnName { get; init; }
    public string OutputColumnName { get; init; } = NeftuneInstructionTuningOptions.DefaultOutputColumnName;
    /// <summary>
    /// The template's name: <c>model</c> for the model's own chat template, read from the tokenizer files saved beside
    /// this file; a built-in name; or a custom template's name with its text below. Default <c>model</c>
    /// (<see cref="Training.TrainingOptions.Template"/>), which is Alpaca for a model without a chat template.
    /// </summary>
    public string PromptTemplate { get; init; } = new Training.TrainingOptions().Template;
    public string? PromptTemplateText { get; init; }
    public string? PromptTemplateNoInput { get; init; }
    public GenerationOptions Generation { get; init; } = new Training.TrainingOptions().Generation;
    public int GenerationBatchSize { get; init; } = 1;
    public string Device { get; init; } = "cpu";

    public static NeftuneTransformerSettings From(NeftuneInstructionTuningOptions options, Data.PromptTemplate template) => new()
    {
        InstructionColumnName = options.InstructionColumnName,
        InputColumnName = options.InputColumnName,
        OutputColumnName = options.OutputColumnName,
        PromptTemplate = template.Name,
        PromptTemplateText = (template as CustomTemplate)?.Template,
        PromptTemplateNoInput = (template as CustomTemplate)?.NoInputTemplate,
        Generation = options.ToGenerationOptions() with { StopStrings = options.StopStrings.ToArray() },
        GenerationBatchSize = options.GenerationBatchSize,
        Device = options.Device ?? "cpu",
    };

    /// <summary>
    /// The template: the stored custom template text, else the chat template of <paramref name="tokenizer"/>'s model for
    /// <c>model</c> (Alpaca when it has none), else the built-in template of that name.
    /// </summary>
    public Data.PromptTemplate CreateTemplate(IO.Tokenizers.TextTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        return IsModelTemplate ? Data.PromptTemplate.Resolve(PromptTemplate, tokenizer) : CreateNamedTemplate();
    }

    /// <summary>
    /// True when the settings file names the model's own chat template (<c>"prompt_template": "model"</c>): the
    /// transformer was tuned with it, so a folder without one is an error. A file without the field takes the default,
    /// <c>model</c>, which is Alpaca for a model without a chat template.
    /// </summary>
    [JsonIgnore]
    public bool RequiresModelTemplate { get; private init; }

    private bool IsModelTemplate => PromptTemplateText is null && string.Equals(PromptTemplate?.Trim(), Data.Templates.ModelPromptTemplate.TemplateName, StringComparison.OrdinalIgnoreCase);

    private Data.PromptTemplate CreateNamedTemplate() =>
        PromptTemplateText is not null
            ? new CustomTemplate(PromptTemplateText, PromptTemplateNoInput, string.IsNullOrEmpty(PromptTemplate) ? "custom" : PromptTemplate)
            : Data.PromptTemplate.Get(PromptTemplate);

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static NeftuneTransformerSettings FromJson(string json, string source)
    {
        NeftuneTransformerSettings? settings;
        try
        {
            if (JsonNode.Parse(json) is not JsonObject root) throw new InvalidDataException($"{source}: NEFTune settings must be a JSON object.");
            int version = root["format_version"] is { } v ? v.GetValue<int>() : 1;
            if (version > CurrentFormatVersion)
                throw new InvalidDataException($"{source}: NEFTune settings format {version} is newer than this library reads (1 to {CurrentFormatVersion}); update Microsoft.ML.NEFTune.");
            if (version < 2) NestFormat1Generation(root);
            settings = root.Deserialize<NeftuneTransformerSettings>(Json);
            if (settings is not null && root["prompt_template"] is JsonValue named && named.TryGetValue<string>(out var name)
                && string.Equals(name.Trim(), Data.Templates.ModelPromptTemplate.TemplateName, StringComparison.OrdinalIgnoreCase) && settings.PromptTemplateText is null)
                settings = settings with { RequiresModelTemplate = true };
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            throw new InvalidDataException($"{source}: invalid NEFTune settings: {e.Message}", e);
        }
        if (settings?.Generation is null) throw new InvalidDataException($"{source}: NEFTune settings without decoding settings ('generation').");
        try
        {
            settings.Generation.Validate();
            if (!settings.IsModelTemplate) settings.CreateNamedTemplate();   // the model's chat template is read with the tokenizer
        }
        catch (Exception e) when (e is ArgumentException or DataFormatException)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
        return settings;
    }

    /// <summary>Format 1 held the decoding settings as top-level fields; format 2 nests them as a <see cref="GenerationOptions"/>.</summary>
    private static void NestFormat1Generation(JsonObject root)
    {
        var generation = new JsonObject();
        foreach (var (old, name) in new[] { ("max_new_tokens", "max_new_tokens"), ("temperature", "temperature"), ("top_k", "top_k"), ("top_p", "top_p"),
                     ("repetition_penalty", "repetition_penalty"), ("stop_strings", "stop_strings"), ("generation_seed", "seed") })
        {
            if (root[old] is { } value)
            {
                root.Remove(old);
                generation[name] = value;
            }
        }
        var defaults = JsonSerializer.SerializeToNode(new NeftuneTransformerSettings().Generation, Json)!.AsObject();
        foreach (var (name, value) in defaults)
            if (!generation.ContainsKey(name)) generation[name] = value?.DeepClone();
        root["generation"] = generation;
        root["format_version"] = CurrentFormatVersion;
    }
}
