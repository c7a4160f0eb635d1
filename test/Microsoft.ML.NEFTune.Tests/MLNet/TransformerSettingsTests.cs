using System.Text.Json.Nodes;

namespace Microsoft.ML.NEFTune.Tests.MLNet;

/// <summary><c>neftune.json</c>: decoding settings nested as GenerationOptions (format 2), format 1 files still read.</summary>
public class TransformerSettingsTests
{
    // What format 1 wrote: the decoding settings as top-level fields.
    private const string Format1 = """
        {
          "format_version": 1, "instruction_column_name": "Task", "input_column_name": "Context", "output_column_name": "Answer",
          "prompt_template": "chatml", "prompt_template_text": null, "prompt_template_no_input": null,
          "max_new_tokens": 7, "temperature": 0.5, "top_k": 3, "top_p": 0.9, "repetition_penalty": 1.1,
          "stop_strings": ["###"], "generation_seed": 9, "generation_batch_size": 2, "device": "cpu"
        }
        """;

    [Fact]
    public void AFormat1FileKeepsItsDecodingSettings()
    {
        var settings = NeftuneTransformerSettings.FromJson(Format1, "neftune.json");

        var g = settings.Generation;
        Assert.Equal((7, 0.5, 3, 0.9, 1.1, 9L), (g.MaxNewTokens, g.Temperature, g.TopK, g.TopP, g.RepetitionPenalty, g.Seed));
        Assert.Equal(new[] { "###" }, g.StopStrings);
        Assert.Equal(("Task", "Context", "Answer", "chatml", 2), (settings.InstructionColumnName, settings.InputColumnName, settings.OutputColumnName, settings.PromptTemplate, settings.GenerationBatchSize));
    }

    [Fact]
    public void AFormat1FileWithoutDecodingFieldsGetsTheTransformersDefaults()
    {
        var settings = NeftuneTransformerSettings.FromJson("""{"max_new_tokens": 5}""", "neftune.json");

        Assert.Equal(5, settings.Generation.MaxNewTokens);
        Assert.Equal(1.2, settings.Generation.RepetitionPenalty);   // the transformer's default, not GenerationOptions' 1
    }

    [Fact]
    public void SettingsAreWrittenAsFormat2AndReadBackUnchanged()
    {
        var settings = NeftuneTransformerSettings.FromJson(Format1, "neftune.json");

        var json = settings.ToJson();
        var again = NeftuneTransformerSettings.FromJson(json, "neftune.json");

        var root = JsonNode.Parse(json)!;
        Assert.Equal(2, root["format_version"]!.GetValue<int>());
        Assert.Equal(7, root["generation"]!["max_new_tokens"]!.GetValue<int>());
        Assert.Null(root["max_new_tokens"]);
        Assert.Equal(settings.Generation with { StopStrings = Array.Empty<string>() }, again.Generation with { StopStrings = Array.Empty<string>() });
        Assert.Equal(settings.Generation.StopStrings, again.Generation.StopStrings);
        Assert.Equal(settings with { Generation = again.Generation }, again);
    }

    [Fact]
    public void ANewerFormatIsRefusedByName()
    {
        var e = Assert.Throws<InvalidDataException>(() => NeftuneTransformerSettings.FromJson("""{"format_version": 3}""", "neftune.json"));

        Assert.Contains("format 3 is newer", e.Message);
    }
}
