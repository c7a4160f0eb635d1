using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.Tests.Templates;

namespace Microsoft.ML.NEFTune.Tests.Cli;

/// <summary><c>neftune template</c> prints exactly what the outside references render.</summary>
public class TemplateCommandTests
{
    /// <summary>A model directory whose tokenizer_config.json carries a fixture template and its special tokens.</summary>
    private static string ModelDirectory(TempDirectory temp, string template)
    {
        var config = new JsonObject { ["chat_template"] = ChatTemplateFixtures.TemplateSource(template) };
        var entry = JsonNode.Parse(File.ReadAllText(Path.Combine(ChatTemplateFixtures.Directory, "templates.json")))![template]!["tokens"]!.AsObject();
        foreach (var (name, value) in entry) config[name] = value!.DeepClone();
        string dir = temp["model"];
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), config.ToJsonString());
        return dir;
    }

    private static string MessagesFile(TempDirectory temp, string conversation)
    {
        var messages = new JsonArray(ChatTemplateFixtures.Conversation(conversation).Select(m => (JsonNode)new JsonObject { ["role"] = m.Role, ["content"] = m.Content }).ToArray());
        File.WriteAllText(temp["messages.json"], messages.ToJsonString());
        return temp["messages.json"];
    }

    private static string Expected(string template, string conversation, bool addGenerationPrompt) =>
        ChatTemplateFixtures.Renders(template).Single(r => r.Conversation == conversation && r.AddGenerationPrompt == addGenerationPrompt).Text!;

    [Theory]
    [InlineData("qwen2.5", "with-system", true)]
    [InlineData("llama-3.1-instruct", "training", false)]
    [InlineData("gemma-3", "whitespace", true)]
    public void PrintsTheRenderedTextExactlyWithNothingAdded(string template, string conversation, bool addGenerationPrompt)
    {
        using var temp = new TempDirectory();
        var args = new List<string> { "template", "--model", ModelDirectory(temp, template), "--messages", MessagesFile(temp, conversation) };
        if (addGenerationPrompt) args.Add("--add-generation-prompt");

        var result = CliRunner.Run(args.ToArray());

        Assert.Equal("", result.Error);
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(Expected(template, conversation, addGenerationPrompt), result.Out);
    }

    [Fact]
    public void TokenizerConfigFileWorksLikeAModelDirectory()
    {
        using var temp = new TempDirectory();
        string config = Path.Combine(ModelDirectory(temp, "zephyr-7b-beta"), "tokenizer_config.json");

        var result = CliRunner.Run("template", "--tokenizer-config", config, "--messages", MessagesFile(temp, "multi-turn"));

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(Expected("zephyr-7b-beta", "multi-turn", false), result.Out);
    }

    [Fact]
    public void DatePinsStrftimeNow()
    {
        using var temp = new TempDirectory();
        string model = ModelDirectory(temp, "smollm3-3b"), messages = MessagesFile(temp, "single-user");

        var pinned = CliRunner.Run("template", "--model", model, "--messages", messages, "--date", "2025-03-07");
        var otherDay = CliRunner.Run("template", "--model", model, "--messages", messages, "--date", "2024-12-31");

        Assert.Equal(Expected("smollm3-3b", "single-user", false), pinned.Out);
        Assert.Contains("31 December 2024", otherDay.Out);
        Assert.DoesNotContain("March 2025", otherDay.Out);
    }

    [Fact]
    public void RaiseExceptionExitsOneWithTheTemplatesMessageAndNoStackTrace()
    {
        using var temp = new TempDirectory();

        var result = CliRunner.Run("template", "--model", ModelDirectory(temp, "mixtral-8x7b-instruct"), "--messages", MessagesFile(temp, "assistant-first"));

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Out);
        Assert.Equal("neftune: error: Conversation roles must alternate user/assistant/user/assistant/...", Assert.Single(result.ErrorLines));
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(false, false)]
    public void ExactlyOneTemplateSourceIsRequired(bool model, bool config)
    {
        using var temp = new TempDirectory();
        string dir = ModelDirectory(temp, "qwen2.5");
        var args = new List<string> { "template", "--messages", MessagesFile(temp, "single-user") };
        if (model) args.AddRange(new[] { "--model", dir });
        if (config) args.AddRange(new[] { "--tokenizer-config", Path.Combine(dir, "tokenizer_config.json") });

        var result = CliRunner.Run(args.ToArray());

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("exactly one of --model and --tokenizer-config", result.Error);
    }

    [Fact]
    public void MessagesThatAreNotRoleContentObjectsAreAUsageError()
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp["bad.json"], JsonSerializer.Serialize(new[] { new { role = "user", text = "hi" } }));

        var result = CliRunner.Run("template", "--model", ModelDirectory(temp, "qwen2.5"), "--messages", temp["bad.json"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("'text' is not supported", Assert.Single(result.ErrorLines));
    }
}
