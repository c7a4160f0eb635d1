using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Generation;

namespace Microsoft.ML.NEFTune;

/// <summary>What a transformer needs besides its weights and tokenizer; stored as <c>neftune.json</c> beside them.</summary>
internal sealed record NeftuneTransformerSettings
{
    public const string FileName = "neftune.json";

    public int FormatVersion { get; init; } = 1;
    public string InstructionColumnName { get; init; } = NeftuneInstructionTuningOptions.DefaultInstructionColumnName;
    public string? InputColumnName { get; init; }
    public string OutputColumnName { get; init; } = NeftuneInstructionTuningOptions.DefaultOutputColumnName;
    public string PromptTemplate { get; init; } = "alpaca";
    public string? PromptTemplateText { get; init; }
    public string? PromptTemplateNoInput { get; init; }
    public int MaxNewTokens { get; init; } = 128;
    public double Temperature { get; init; }
    public int TopK { get; init; }
    public double TopP { get; init; } = 1.0;
    public double RepetitionPenalty { get; init; } = 1.2;
    public string[] StopStrings { get; init; } = Array.Empty<string>();
    public long GenerationSeed { get; init; }
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
        MaxNewTokens = options.MaxNewTokens,
        Temperature = options.Temperature,
        TopK = options.TopK,
        TopP = options.TopP,
        RepetitionPenalty = options.RepetitionPenalty,
        StopStrings = options.StopStrings.ToArray(),
        GenerationSeed = options.GenerationSeed,
        GenerationBatchSize = options.GenerationBatchSize,
        Device = options.Device ?? "cpu",
    };

    /// <summary>The template: the stored custom template text, else the built-in template of that name.</summary>
    public Data.PromptTemplate CreateTemplate() =>
        PromptTemplateText is not null
            ? new CustomTemplate(PromptTemplateText, PromptTemplateNoInput, string.IsNullOrEmpty(PromptTemplate) ? "custom" : PromptTemplate)
            : Data.PromptTemplate.Get(PromptTemplate);

    public GenerationOptions ToGenerationOptions() => new()
    {
        MaxNewTokens = MaxNewTokens,
        Temperature = Temperature,
        TopK = TopK,
        TopP = TopP,
        RepetitionPenalty = RepetitionPenalty,
        StopStrings = StopStrings,
        Seed = GenerationSeed,
    };

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
        try { settings = JsonSerializer.Deserialize<NeftuneTransformerSettings>(json, Json); }
        catch (JsonException e) { throw new InvalidDataException($"{source}: invalid NEFTune settings: {e.Message}", e); }
        if (settings is null) throw new InvalidDataException($"{source}: empty NEFTune settings.");
        if (settings.FormatVersion > 1)
            throw new InvalidDataException($"{source}: NEFTune settings format {settings.FormatVersion} is newer than this library reads (1); update Microsoft.ML.NEFTune.");
        try
        {
            settings.ToGenerationOptions().Validate();
            settings.CreateTemplate();
        }
        catch (Exception e) when (e is ArgumentException or DataFormatException)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
        return settings;
    }
}
