using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Data.Templates;
using Microsoft.ML.NEFTune.IO.Tokenizers;
using Microsoft.ML.NEFTune.Tests.Tokenizers;

namespace Microsoft.ML.NEFTune.Tests.Templates;

/// <summary>Training with a model's chat template: the reference text, the loss on assistant turns only, BOS once.</summary>
public class ModelPromptTemplateTests
{
    private static InstructionExample Example(string conversation) =>
        InstructionExample.FromMessages(ChatTemplateFixtures.Conversation(conversation).Select(m => new ChatMessage(Enum.Parse<ChatRole>(m.Role, ignoreCase: true), m.Content)));

    [Theory]
    [InlineData("qwen2.5", "Red.<|im_end|>", "Blue.<|im_end|>")]
    [InlineData("qwen3", "Red.<|im_end|>", "<think>\n\n</think>\n\nBlue.<|im_end|>")]
    [InlineData("llama-3.1-instruct", "Red.<|eot_id|>", "Blue.<|eot_id|>")]
    [InlineData("gemma-3", "Red.<end_of_turn>", "Blue.<end_of_turn>")]
    [InlineData("zephyr-7b-beta", "Red.</s>", "Blue.</s>")]
    [InlineData("deepseek-v3", "Red.<｜end▁of▁sentence｜>", "Blue.<｜end▁of▁sentence｜>")]
    public void TextIsTheReferenceRenderAndTargetsAreTheAssistantTurns(string template, string first, string second)
    {
        var prompt = new ModelPromptTemplate(ChatTemplateFixtures.Template(template), new ChatTemplateOptions { Now = ChatTemplateFixtures.PinnedDate });

        var segments = prompt.Render(Example("training"));

        string expected = ChatTemplateFixtures.Renders(template).Single(r => r.Conversation == "training" && !r.AddGenerationPrompt).Text!;
        Assert.Equal(expected, string.Concat(segments.Select(s => s.Text)));
        Assert.Equal(new[] { first, second }, segments.Where(s => s.IsTarget).Select(s => s.Text));
    }

    [Fact]
    public void PromptForGenerationIsTheReferenceRenderWithTheGenerationPrompt()
    {
        var prompt = new ModelPromptTemplate(ChatTemplateFixtures.Template("llama-3.1-instruct"));

        string text = prompt.RenderPrompt(Example("with-system"));

        Assert.Equal(ChatTemplateFixtures.Renders("llama-3.1-instruct").Single(r => r.Conversation == "with-system" && r.AddGenerationPrompt).Text, text);
    }

    [Fact]
    public void GenerationMarkersDecideTheTargets()
    {
        var template = ChatTemplate.FromString(
            "{% for m in messages %}<{{ m.role }}>{% if m.role == 'assistant' %}{% generation %}{{ m.content }}[end]{% endgeneration %}{% else %}{{ m.content }}{% endif %}\n{% endfor %}");
        var prompt = new ModelPromptTemplate(template);

        var segments = prompt.Render(Example("training"));

        Assert.True(template.HasGenerationMarkers);
        Assert.Equal(new[] { "Red.[end]", "Blue.[end]" }, segments.Where(s => s.IsTarget).Select(s => s.Text));
        // trim_blocks removes the newline after each {% endif %}.
        Assert.Equal("<system>Answer briefly.<user>Name a primary colour.<assistant>Red.[end]<user>Another one?<assistant>Blue.[end]", string.Concat(segments.Select(s => s.Text)));
    }

    [Fact]
    public void BosWrittenByTheTemplateIsNotDoubledAndOnlyAssistantTokensAreTrained()
    {
        using var dir = new TempDirectory();
        TinyByteLevelTokenizerJson.Write(dir, TinyByteLevelTokenizerJson.Build());
        File.WriteAllText(dir["tokenizer_config.json"], new JsonObject
        {
            ["add_bos_token"] = true,
            ["bos_token"] = "<|endoftext|>",
            ["eos_token"] = "<|endoftext|>",
            ["chat_template"] = "{{ bos_token }}{% for m in messages %}{{ m.role }}\n{{ m.content }}{% if m.role == 'assistant' %}{{ eos_token }}{% endif %}\n{% endfor %}{% if add_generation_prompt %}assistant\n{% endif %}",
        }.ToJsonString());
        var tokenizer = TextTokenizer.Load(dir.Path);
        var template = PromptTemplate.Resolve("model", tokenizer);
        var encoder = new ExampleTokenizer(tokenizer, template);
        var example = InstructionExample.FromMessages(new[] { new ChatMessage(ChatRole.User, "hello"), new ChatMessage(ChatRole.Assistant, "world") });

        var encoded = encoder.Encode(example);

        Assert.IsType<ModelPromptTemplate>(template);
        Assert.True(tokenizer.AddBosToken);
        const int Bos = TinyByteLevelTokenizerJson.EndOfText;
        Assert.Equal(Bos, encoded.InputIds[0]);
        Assert.NotEqual(Bos, encoded.InputIds[1]);
        Assert.Equal(2, encoded.InputIds.Count(id => id == Bos)); // the BOS the template writes and the EOS after "world"
        var trained = encoded.InputIds.Where((_, i) => encoded.Labels[i] != ExampleTokenizer.LabelIgnoreIndex).ToArray();
        Assert.Equal(tokenizer.Encode("world").Append(Bos), trained);
        Assert.Equal(tokenizer.Encode("<|endoftext|>user\nhelloassistant\n"), encoder.EncodePrompt(example)); // trim_blocks eats the newline after endif
    }

    [Fact]
    public void ModelWithoutAChatTemplateFallsBackToAlpaca()
    {
        var tokenizer = TextTokenizer.Load(Fixtures.LlamaTokenizer);

        Assert.IsType<AlpacaTemplate>(PromptTemplate.Resolve("model", tokenizer));
    }
}
