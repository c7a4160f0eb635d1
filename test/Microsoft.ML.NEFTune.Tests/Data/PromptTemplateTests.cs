using Microsoft.ML.NEFTune.Data;

namespace Microsoft.ML.NEFTune.Tests.Data;

[Collection(DataTestCollection.Name)]
public class PromptTemplateTests
{
    private static readonly PromptTemplate Alpaca = PromptTemplate.Get("alpaca");

    private static InstructionExample Chat(params (ChatRole Role, string Content)[] turns)
        => InstructionExample.FromMessages(turns.Select(t => new ChatMessage(t.Role, t.Content)));

    [Fact]
    public void AlpacaWithInputIsExactlyTheAuthorsPrompt()
    {
        var example = InstructionExample.FromInstruction("Add the numbers.", "1 and 2", "3");

        Assert.Equal(
            "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n### Instruction:\nAdd the numbers.\n\n### Input:\n1 and 2\n\n### Response:",
            Alpaca.Render(example)[0].Text);
    }

    [Fact]
    public void AlpacaWithoutInputIsExactlyTheAuthorsPrompt()
    {
        var example = InstructionExample.FromInstruction("Say hi.", "", "Hi!");

        Assert.Equal(
            "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nSay hi.\n\n### Response:",
            Alpaca.Render(example)[0].Text);
    }

    [Fact]
    public void AlpacaGenerationPromptIsTheAuthorsEvaluationPromptWithItsTrailingNewline()
    {
        // NEFTune's eval_generate.py renders the alpaca conversation template: system, "\n\n", "### Instruction:\n" + instruction,
        // "\n\n", then "### Response:\n" for the empty answer.
        Assert.Equal(
            "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nSay hi.\n\n### Response:\n",
            Alpaca.RenderPrompt(InstructionExample.FromInstruction("Say hi.")));
    }

    [Fact]
    public void AlpacaTargetIsTheOutputRightAfterTheResponseMarkerThenEos()
    {
        var segments = Alpaca.Render(InstructionExample.FromInstruction("Say hi.", "", "Hi!"));

        Assert.Equal(3, segments.Count);
        Assert.EndsWith("### Response:", segments[0].Text);
        Assert.False(segments[0].IsTarget);
        Assert.Equal(new TemplateSegment("Hi!", true), segments[1]);
        Assert.Equal((SpecialToken.Eos, true), (segments[2].Special, segments[2].IsTarget));
    }

    [Fact]
    public void AlpacaPlaceholdersInsideValuesAreNotSubstituted()
    {
        var prompt = Alpaca.RenderPrompt(InstructionExample.FromInstruction("Explain {input}.", "the {instruction} field"));

        Assert.Contains("### Instruction:\nExplain {input}.\n\n### Input:\nthe {instruction} field\n\n", prompt);
    }

    [Fact]
    public void AlpacaRendersAConversationAsRepeatedExchanges()
    {
        var example = Chat((ChatRole.User, "Hi"), (ChatRole.Assistant, "Hello"), (ChatRole.User, "Bye"), (ChatRole.Assistant, "Ciao"));

        var text = string.Concat(Alpaca.Render(example).Select(s => s.Special == SpecialToken.Eos ? "|" : s.Text));

        Assert.Equal("Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nHi\n\n### Response:Hello|\n\n### Instruction:\nBye\n\n### Response:Ciao|", text);
    }

    [Fact]
    public void AlpacaStyleExampleBecomesOneUserTurnInChatTemplates()
    {
        var prompt = PromptTemplate.Get("chatml").RenderPrompt(InstructionExample.FromInstruction("Add.", "1 2", "3"));

        Assert.Equal("<|im_start|>user\nAdd.\n\n1 2<|im_end|>\n<|im_start|>assistant\n", prompt);
    }

    [Fact]
    public void ResolveTakesABuiltInNameOrAFile()
    {
        using var dir = new TempDirectory();
        var path = DataFiles.Write(dir, "qa.txt", "Q: {instruction}\nA: {output}");

        Assert.IsType<AlpacaTemplate>(PromptTemplate.Resolve("Alpaca"));
        Assert.Equal("Q: x\nA: ", PromptTemplate.Resolve(path).RenderPrompt(InstructionExample.FromInstruction("x")));
        Assert.Throws<ArgumentException>(() => PromptTemplate.Resolve(dir["missing.txt"]));
    }

    [Fact]
    public void UnknownTemplateNameListsTheKnownOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => PromptTemplate.Get("alpacca"));

        Assert.Equal("name", e.ParamName);
        Assert.Contains("alpacca", e.Message);
        Assert.Contains("llama2-chat", e.Message);
    }

    [Fact]
    public void Llama2ChatFollowsMetasFormat()
    {
        var example = Chat((ChatRole.System, "Be brief."), (ChatRole.User, "Hi "), (ChatRole.Assistant, "Hello"), (ChatRole.User, "Add 1 2."), (ChatRole.Assistant, "3"));
        var segments = PromptTemplate.Get("llama2-chat").Render(example);

        Assert.Equal(new[]
        {
            ("[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST]", false, SpecialToken.None),
            (" Hello ", true, SpecialToken.None),
            ("", true, SpecialToken.Eos),
            ("", false, SpecialToken.Bos),
            ("[INST] Add 1 2. [/INST]", false, SpecialToken.None),
            (" 3 ", true, SpecialToken.None),
            ("", true, SpecialToken.Eos),
        }, segments.Select(s => (s.Text, s.IsTarget, s.Special)));
    }

    [Fact]
    public void ChatMLRendersEveryTurnBetweenMarkers()
    {
        var example = Chat((ChatRole.System, "Be brief."), (ChatRole.User, "Hi"), (ChatRole.Assistant, "Hello"), (ChatRole.User, "Bye"), (ChatRole.Assistant, "Bye!"));
        var segments = PromptTemplate.Get("chatml").Render(example);

        Assert.Equal(
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\nBye!<|im_end|>",
            string.Concat(segments.Select(s => s.Text)));
        Assert.Equal(new[] { "Hello<|im_end|>", "", "Bye!<|im_end|>", "" }, segments.Where(s => s.IsTarget).Select(s => s.Text));
        Assert.Equal("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", PromptTemplate.Get("chatml").RenderPrompt(Chat((ChatRole.User, "Hi"))));
    }

    [Fact]
    public void VicunaUsesFastChatV11Separators()
    {
        var example = Chat((ChatRole.User, "Hi"), (ChatRole.Assistant, "Hello"), (ChatRole.User, "Bye"), (ChatRole.Assistant, "Bye!"));
        var vicuna = PromptTemplate.Get("vicuna");

        Assert.Equal(
            "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions. USER: Hi ASSISTANT: Hello|USER: Bye ASSISTANT: Bye!|",
            string.Concat(vicuna.Render(example).Select(s => s.Special == SpecialToken.Eos ? "|" : s.Text)));
        Assert.EndsWith("USER: Hello there ASSISTANT:", vicuna.RenderPrompt(Chat((ChatRole.User, "Hello there"))));
    }

    [Fact]
    public void RenderPromptDropsOnlyTheFinalResponse()
    {
        var example = Chat((ChatRole.User, "Hi"), (ChatRole.Assistant, "Hello"), (ChatRole.User, "Bye"), (ChatRole.Assistant, "Bye!"));

        Assert.Equal("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n",
            PromptTemplate.Get("chatml").RenderPrompt(example));
    }

    [Fact]
    public void CustomTemplateSplitsPromptAndTargetAtOutput()
    {
        var template = PromptTemplate.FromString("Q: {instruction}\n{input}\nA: {output}\n--", "Q: {instruction}\nA: {output}\n--");

        var withInput = template.Render(InstructionExample.FromInstruction("Add {{x}}", "1 2", "3"));
        var withoutInput = template.Render(InstructionExample.FromInstruction("Say hi", "", "hi"));

        Assert.Equal(new[] { ("Q: Add {{x}}\n1 2\nA: ", false), ("3\n--", true), ("", true) }, withInput.Select(s => (s.Text, s.IsTarget)));
        Assert.Equal(new[] { ("Q: Say hi\nA: ", false), ("hi\n--", true), ("", true) }, withoutInput.Select(s => (s.Text, s.IsTarget)));
    }

    [Fact]
    public void CustomTemplateBracesEscape()
    {
        var template = PromptTemplate.FromString("{{json}} {instruction}: {output}");

        Assert.Equal("{json} Go: ", template.RenderPrompt(InstructionExample.FromInstruction("Go", "", "x")));
    }

    [Theory]
    [InlineData("{instruction}", "{output}")]
    [InlineData("{instruction} {output} {output}", "{output}")]
    [InlineData("{output}", "{instruction}")]
    [InlineData("{instruction} {answer} {output}", "{answer}")]
    [InlineData("{instruction} } {output}", "'}'")]
    public void InvalidCustomTemplatesAreRejected(string template, string named)
    {
        var e = Assert.Throws<ArgumentException>(() => PromptTemplate.FromString(template));

        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void TemplateFileDropsTheFinalNewline()
    {
        using var dir = new TempDirectory();
        var path = DataFiles.Write(dir, "qa.txt", "Q: {instruction}\nA: {output}\n");

        var template = PromptTemplate.FromFile(path);

        Assert.Equal("qa", template.Name);
        Assert.Equal(new[] { "Q: Hi\nA: ", "Hello", "" }, template.Render(InstructionExample.FromInstruction("Hi", "", "Hello")).Select(s => s.Text));
    }

    [Fact]
    public void JsonTemplateFileHasBothVariants()
    {
        using var dir = new TempDirectory();
        var path = DataFiles.Write(dir, "t.json", """{"template": "I: {instruction}\nX: {input}\nR: {output}", "template_no_input": "I: {instruction}\nR: {output}"}""");

        var template = PromptTemplate.FromFile(path);

        Assert.Equal("I: a\nX: b\nR: ", template.RenderPrompt(InstructionExample.FromInstruction("a", "b")));
        Assert.Equal("I: a\nR: ", template.RenderPrompt(InstructionExample.FromInstruction("a")));
    }

    [Fact]
    public void InvalidTemplateFileNamesTheFile()
    {
        using var dir = new TempDirectory();
        var path = DataFiles.Write(dir, "bad.txt", "Q: {question}\nA: {output}");

        var e = Assert.Throws<DataFormatException>(() => PromptTemplate.FromFile(path));

        Assert.Equal(path, e.File);
        Assert.Contains("{question}", e.Message);
    }

    [Fact]
    public void ConversationsMustAlternateStartingWithUser()
    {
        var e = Assert.Throws<ArgumentException>(() => Chat((ChatRole.User, "a"), (ChatRole.User, "b")));

        Assert.Equal("messages", e.ParamName);
    }
}
