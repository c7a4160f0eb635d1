using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Data.Templates;
using Microsoft.ML.NEFTune.Generation;
using Microsoft.ML.NEFTune.IO.Tokenizers;
using Microsoft.ML.NEFTune.Modeling;
using Microsoft.ML.NEFTune.Tests.Templates;
using Microsoft.ML.NEFTune.Tests.Tokenizers;
using static TorchSharp.torch;
using AIChatMessage = Microsoft.Extensions.AI.ChatMessage;
using AIChatRole = Microsoft.Extensions.AI.ChatRole;

namespace Microsoft.ML.NEFTune.Tests.Generation;

/// <summary>
/// A tiny model whose folder carries Qwen2.5's real chat template (<c>tokenizer_config.json</c>), a byte-level
/// tokenizer with its turn markers as special tokens, and a <c>generation_config.json</c> with an extra EOS id.
/// </summary>
public sealed class TemplatedChatModel : IDisposable
{
    public const int EndOfText = TinyByteLevelTokenizerJson.EndOfText;   // the model config's EOS
    public const int ImStart = 269, ImEnd = 270, ExtraEos = 271;
    private readonly TempDirectory folder = new();

    public TemplatedChatModel()
    {
        WriteTokenizerFolder(folder.Path);
        Tokenizer = TextTokenizer.Load(folder.Path);
        Model = new LlamaForCausalLM(Config);
        Model.InitializeWeights(5);
    }

    /// <summary>
    /// A model of <see cref="Config"/>'s shape whose greedy choice is <paramref name="token"/> at every step: the layers add
    /// nothing, every embedding has +1 in dimension 0, the final norm keeps only that dimension and the head reads it
    /// into <paramref name="token"/> alone.
    /// </summary>
    public static LlamaForCausalLM AlwaysWriting(int token)
    {
        var model = new LlamaForCausalLM(Config);
        model.InitializeWeights(6);
        using (no_grad())
        {
            foreach (var (name, parameter) in model.named_parameters())
            {
                if (name.EndsWith("o_proj.weight", StringComparison.Ordinal) || name.EndsWith("down_proj.weight", StringComparison.Ordinal)) parameter.zero_();
                if (name == "model.embed_tokens.weight") parameter.select(1, 0).fill_(1.0);
                if (name == "model.norm.weight") { parameter.zero_(); parameter[0] = 1.0f; }
                if (name == "lm_head.weight") { parameter.zero_(); parameter[token, 0] = 10.0f; }
            }
        }
        return model;
    }

    /// <summary>The model's shape: 272 ids (the tokenizer's), the config's EOS <c>&lt;|endoftext|&gt;</c> only.</summary>
    public static LlamaConfig Config => new()
    {
        VocabSize = 272, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 8,
        MaxPositionEmbeddings = 256, RmsNormEps = 1e-5, TieWordEmbeddings = false, BosTokenId = null, EosTokenIds = new[] { EndOfText }, PadTokenId = EndOfText,
    };

    /// <summary>
    /// Writes the tokenizer, a <c>tokenizer_config.json</c> with Qwen2.5's chat template (or, with
    /// <paramref name="templateInJinjaFile"/>, the template in <c>chat_template.jinja</c> beside a config without one) and
    /// the <c>generation_config.json</c> into <paramref name="directory"/>.
    /// </summary>
    public static void WriteTokenizerFolder(string directory, bool templateInJinjaFile = false)
    {
        var json = TinyByteLevelTokenizerJson.Build();
        var added = json["added_tokens"]!.AsArray();
        foreach (var (id, content) in new[] { (ImStart, "<|im_start|>"), (ImEnd, "<|im_end|>"), (ExtraEos, "<|extra_eos|>") })
            added.Add(new JsonObject { ["id"] = id, ["content"] = content, ["special"] = true, ["lstrip"] = false, ["rstrip"] = false, ["single_word"] = false, ["normalized"] = false });
        File.WriteAllText(Path.Combine(directory, "tokenizer.json"), json.ToJsonString());
        var config = new JsonObject
        {
            ["add_bos_token"] = false,
            ["bos_token"] = null,
            ["eos_token"] = "<|im_end|>",
            ["pad_token"] = "<|endoftext|>",
        };
        if (templateInJinjaFile) File.WriteAllText(Path.Combine(directory, ChatTemplate.JinjaFileName), ChatTemplateFixtures.TemplateSource("qwen2.5"));
        else config["chat_template"] = ChatTemplateFixtures.TemplateSource("qwen2.5");
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), config.ToJsonString());
        WriteGenerationConfig(directory);
    }

    /// <summary>A <c>generation_config.json</c> whose <c>eos_token_id</c> adds <see cref="ExtraEos"/> to the config's EOS.</summary>
    public static void WriteGenerationConfig(string directory) =>
        File.WriteAllText(Path.Combine(directory, EndOfTurn.GenerationConfigFileName), $$"""{"eos_token_id": [{{EndOfText}}, {{ExtraEos}}]}""");

    public LlamaForCausalLM Model { get; }
    public TextTokenizer Tokenizer { get; }

    public void Dispose()
    {
        Model.Dispose();
        folder.Dispose();
    }
}

public sealed class ChatClientTemplateTests : IClassFixture<TemplatedChatModel>
{
    private readonly TemplatedChatModel fixture;

    public ChatClientTemplateTests(TemplatedChatModel fixture) => this.fixture = fixture;

    private static List<AIChatMessage> Conversation(string name) =>
        ChatTemplateFixtures.Conversation(name).Select(m => new AIChatMessage(new AIChatRole(m.Role), m.Content)).ToList();

    [Fact]
    public void PromptIdsAreTheReferenceRenderOfTheModelsTemplateTokenized()
    {
        using var client = new NeftuneChatClient(fixture.Model, fixture.Tokenizer);
        string reference = ChatTemplateFixtures.Renders("qwen2.5").Single(r => r.Conversation == "with-system" && r.AddGenerationPrompt).Text!;

        var prompt = client.Prepare(Conversation("with-system"), options: null).Prompt;

        Assert.IsType<ModelPromptTemplate>(client.Template);
        Assert.EndsWith("<|im_start|>assistant\n", reference);
        Assert.Equal(fixture.Tokenizer.Encode(reference).Select(i => (long)i), prompt);   // no BOS added: the template writes its own tokens
        Assert.Equal(TemplatedChatModel.ImStart, prompt[0]);
        Assert.Equal(4, prompt.Count(id => id == TemplatedChatModel.ImEnd));              // system, user, assistant, user turns closed
    }

    [Fact]
    public void TheAnswerEndsAtTheTemplatesEndOfTurnTokenAndTheGenerationConfigsEos()
    {
        using var client = new NeftuneChatClient(fixture.Model, fixture.Tokenizer);

        var generation = client.Prepare(Conversation("single-user"), new ChatOptions { StopSequences = new List<string> { "STOP" } }).Generation;

        Assert.Equal(new[] { TemplatedChatModel.EndOfText, TemplatedChatModel.ExtraEos, TemplatedChatModel.ImEnd }.Order(), generation.EosTokenIds!.Order());
        Assert.Equal(new[] { "STOP" }, generation.StopStrings);   // <|im_end|> decodes to nothing: it is matched by id, not in the text
    }

    [Fact]
    public void ANamedTemplateIsUsedWhenAsked()
    {
        using var client = new NeftuneChatClient(fixture.Model, fixture.Tokenizer, new NeftuneChatClientOptions { Template = PromptTemplate.Get("alpaca") });

        var request = client.Prepare(Conversation("single-user"), options: null);

        Assert.Equal("alpaca", client.Template.Name);
        var alpaca = new ExampleTokenizer(fixture.Tokenizer, new AlpacaTemplate()).EncodePrompt(InstructionExample.FromInstruction("Hello, how are you?"));
        Assert.Equal(alpaca.Select(i => (long)i), request.Prompt);
        Assert.Contains("### Instruction:", request.Generation.StopStrings);
    }

    [Fact]
    public async Task StreamingWithTheModelsTemplateConcatenatesToTheResponse()
    {
        using var client = new NeftuneChatClient(fixture.Model, fixture.Tokenizer);
        var messages = Conversation("multi-turn");
        var options = new ChatOptions { MaxOutputTokens = 16, Temperature = 1f, Seed = 4 };

        var response = await client.GetResponseAsync(messages, options);
        var pieces = new List<string>();
        await foreach (var update in client.GetStreamingResponseAsync(messages, options)) pieces.Add(update.Text);

        Assert.True(response.Usage!.OutputTokenCount > 3, $"expected a few tokens, got {response.Usage.OutputTokenCount}");
        Assert.True(pieces.Count(p => p.Length > 0) > 1, $"expected several pieces, got {pieces.Count(p => p.Length > 0)}");
        Assert.Equal(response.Text, string.Concat(pieces));
        Assert.Equal(client.Prepare(messages, null).Prompt.Length, response.Usage.InputTokenCount);
    }

    [Fact]
    public async Task AModelThatWritesTheEndOfTurnTokenStopsThere()
    {
        using var model = TemplatedChatModel.AlwaysWriting(TemplatedChatModel.ImEnd);   // greedy decoding picks <|im_end|> at every step
        using var client = new NeftuneChatClient(model, fixture.Tokenizer);

        var response = await client.GetResponseAsync(Conversation("single-user"), new ChatOptions { MaxOutputTokens = 8 });

        Assert.Equal(0, response.Usage!.OutputTokenCount);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal("", response.Text);
    }
}
