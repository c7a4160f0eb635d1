using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.Cli.Commands;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Generation;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.IO.Tokenizers;

namespace Microsoft.ML.NEFTune.Tests.Cli;

public sealed class ChatCommandTests : IDisposable
{
    private readonly TinyLlamaDirectory dir = new(records: 1);

    public void Dispose() => dir.Dispose();

    private CliRunner.Result Chat(string input, params string[] extra) =>
        CliRunner.RunWithInput(input, new[] { "chat", "--model", dir.ModelPath, "--max-new-tokens", "4", "--json" }.Concat(extra).ToArray());

    private static JsonNode[] Answers(CliRunner.Result result) =>
        result.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToArray();

    [Fact]
    public void EachPipedMessageGetsOneAnswerUntilExit()
    {
        var result = Chat("Name a colour.\n\n   \nName a fruit.\n/exit\nNever read.\n");

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Equal("", result.Error);
        Assert.Equal(new[] { "Name a colour.", "Name a fruit." }, Answers(result).Select(a => a["prompt"]!.GetValue<string>()));
    }

    [Fact]
    public void PlainOutputPrintsOnlyTheAnswers()
    {
        var result = CliRunner.RunWithInput("Hello\n", "chat", "--model", dir.ModelPath, "--max-new-tokens", "3");

        Assert.True(result.ExitCode == 0, result.Error);
        var expected = new TextGenerator(ModelLoader.Load(dir.ModelPath), TextTokenizer.Load(dir.ModelPath))
            .Generate(new AlpacaTemplate().RenderPrompt(InstructionExample.FromInstruction("Hello")),
                new GenerationOptions { MaxNewTokens = 3, RepetitionPenalty = 1.2, StopStrings = ChatCommand.StopStrings("alpaca") }).Trim();
        Assert.Equal(expected + "\n", result.Out.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void ResetForgetsTheConversationOfAChatTemplate()
    {
        var result = Chat("Hi\nAnd then?\n/reset\nHi\n", "--template", "llama2-chat");

        Assert.True(result.ExitCode == 0, result.Error);
        var answers = Answers(result).Select(a => a["response"]!.GetValue<string>()).ToArray();
        Assert.Equal(3, answers.Length);
        Assert.Equal(answers[0], answers[2]);
    }

    /// <summary>What the model answers to <paramref name="messages"/>, encoded and generated here as the chat command does with --max-new-tokens 4.</summary>
    private string Answer(params ChatMessage[] messages)
    {
        using var model = ModelLoader.Load(dir.ModelPath);
        var tokenizer = TextTokenizer.Load(dir.ModelPath);
        var ids = new ExampleTokenizer(tokenizer, PromptTemplate.Get("llama2-chat")).EncodePrompt(InstructionExample.FromMessages(messages));
        var options = new GenerationOptions { MaxNewTokens = 4, RepetitionPenalty = 1.2, StopStrings = ChatCommand.StopStrings("llama2-chat") };
        var text = tokenizer.Decode(new TextGenerator(model, tokenizer).GenerateIds(new[] { ids.Select(i => (long)i).ToArray() }, options)[0].Select(i => (int)i));
        foreach (var stop in options.StopStrings) if (text.IndexOf(stop, StringComparison.Ordinal) is int at and >= 0) text = text[..at];
        return text.Trim();
    }

    [Fact]
    public void TheSecondAnswerIsGeneratedFromThePromptHoldingTheFirstExchange()
    {
        var result = Chat("Hi\nAnd then?\n", "--template", "llama2-chat");

        Assert.True(result.ExitCode == 0, result.Error);
        var answers = Answers(result).Select(a => a["response"]!.GetValue<string>()).ToArray();
        Assert.Equal(2, answers.Length);
        var withHistory = Answer(new ChatMessage(ChatRole.User, "Hi"), new ChatMessage(ChatRole.Assistant, answers[0].Length > 0 ? answers[0] : "…"),
            new ChatMessage(ChatRole.User, "And then?"));
        var alone = Answer(new ChatMessage(ChatRole.User, "And then?"));
        Assert.NotEqual(alone, withHistory);      // on this model the history changes the answer, so ignoring it would be seen
        Assert.Equal(withHistory, answers[1]);
    }

    [Fact]
    public void ChatTemplatesKeepHistoryAndAlpacaDoesNot()
    {
        using var model = ModelLoader.Load(dir.ModelPath);
        var tokenizer = TextTokenizer.Load(dir.ModelPath);
        var options = new GenerationOptions { MaxNewTokens = 2 };
        var chat = new ChatSession(model, tokenizer, PromptTemplate.Get("chatml"), "Be brief.", keepHistory: true, options);
        var alpaca = new ChatSession(model, tokenizer, PromptTemplate.Get("alpaca"), null, keepHistory: false, options);

        chat.Send("one");
        chat.Send("two");
        alpaca.Send("one");

        Assert.Equal(new[] { ChatRole.User, ChatRole.Assistant, ChatRole.User, ChatRole.Assistant }, chat.History.Select(m => m.Role));
        Assert.Equal("two", chat.History[2].Content);
        Assert.Empty(alpaca.History);
        chat.Reset();
        Assert.Empty(chat.History);
    }

    [Fact]
    public void UnknownSlashCommandIsReportedAndTheChatGoesOn()
    {
        var result = Chat("/frobnicate\nHello\n");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("/frobnicate", Assert.Single(result.ErrorLines));
        Assert.Single(Answers(result));
    }

    [Fact]
    public void MissingModelIsAUsageError()
    {
        var result = CliRunner.RunWithInput("Hello\n", "chat", "--model", dir["nothing-here"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("nothing-here", Assert.Single(result.ErrorLines));
    }

    [Fact]
    public void UnknownTemplateIsAUsageError()
    {
        var result = Chat("Hello\n", "--template", "klingon");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("klingon", Assert.Single(result.ErrorLines));
    }
}
