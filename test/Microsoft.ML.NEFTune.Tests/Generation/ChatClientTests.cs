using Microsoft.Extensions.AI;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Generation;
using Microsoft.ML.NEFTune.IO.Tokenizers;
using Microsoft.ML.NEFTune.Modeling;
using AIChatMessage = Microsoft.Extensions.AI.ChatMessage;
using AIChatRole = Microsoft.Extensions.AI.ChatRole;
using Turn = Microsoft.ML.NEFTune.Data.ChatMessage;
using TurnRole = Microsoft.ML.NEFTune.Data.ChatRole;

namespace Microsoft.ML.NEFTune.Tests.Generation;

/// <summary>A random Llama with the Llama 2 tokenizer: its sampled output covers byte tokens and word pieces alike.</summary>
public sealed class RandomChatModel : IDisposable
{
    public RandomChatModel()
    {
        Model = new LlamaForCausalLM(new LlamaConfig
        {
            VocabSize = 32000, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 8,
            MaxPositionEmbeddings = 256, RmsNormEps = 1e-5, TieWordEmbeddings = true, BosTokenId = 1, EosTokenIds = new[] { 2 }, PadTokenId = 0,
        });
        Model.InitializeWeights(3);
        Tokenizer = TextTokenizer.Load(Fixtures.LlamaTokenizer);
    }

    public LlamaForCausalLM Model { get; }
    public TextTokenizer Tokenizer { get; }

    public void Dispose() => Model.Dispose();
}

public sealed class ChatClientTests : IClassFixture<RandomChatModel>
{
    private static readonly AIChatMessage[] Question = { new(AIChatRole.User, "Give three tips for staying healthy.") };
    private readonly RandomChatModel fixture;

    public ChatClientTests(RandomChatModel fixture) => this.fixture = fixture;

    private NeftuneChatClient Client(string template = "alpaca") =>
        new(fixture.Model, fixture.Tokenizer, new NeftuneChatClientOptions { Template = PromptTemplate.Get(template), ModelId = "tiny" });

    private static ChatOptions Sampled(int tokens = 24) => new() { MaxOutputTokens = tokens, Temperature = 1f, Seed = 7 };

    private static async Task<List<ChatResponseUpdate>> Stream(IChatClient client, IEnumerable<AIChatMessage> messages, ChatOptions? options)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(messages, options)) updates.Add(update);
        return updates;
    }

    [Fact]
    public async Task StreamedUpdatesConcatenateToTheResponse()
    {
        using var client = Client();

        var response = await client.GetResponseAsync(Question, Sampled());
        var updates = await Stream(client, Question, Sampled());

        Assert.True(updates.Count(u => u.Text.Length > 0) > 5, $"expected token-by-token updates, got {updates.Count}");
        Assert.Equal(response.Text, string.Concat(updates.Select(u => u.Text)));
        Assert.All(updates, u => Assert.Equal(AIChatRole.Assistant, u.Role));
        var usage = Assert.Single(updates.SelectMany(u => u.Contents).OfType<UsageContent>()).Details;
        Assert.Equal(response.Usage!.InputTokenCount, usage.InputTokenCount);
        Assert.Equal(24, response.Usage.OutputTokenCount);
        Assert.Equal(24, usage.OutputTokenCount);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(ChatFinishReason.Length, updates[^1].FinishReason);
        Assert.Equal("tiny", response.ModelId);
    }

    [Fact]
    public async Task AStopSequenceEndsBothAnswersAtTheSamePlace()
    {
        using var client = Client();
        var full = (await client.GetResponseAsync(Question, Sampled())).Text;
        var stop = full.Substring(full.Length / 2, 4);          // text the model writes midway

        var options = Sampled();
        options.StopSequences = new List<string> { stop };
        var response = await client.GetResponseAsync(Question, options);
        var updates = await Stream(client, Question, options);

        Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)].Trim(), response.Text);
        Assert.Equal(response.Text, string.Concat(updates.Select(u => u.Text)));
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal(ChatFinishReason.Stop, updates[^1].FinishReason);
        Assert.True(response.Usage!.OutputTokenCount < 24);
    }

    [Fact]
    public async Task TheGeneratorStreamsWhatItGenerates()
    {
        var generator = new TextGenerator(fixture.Model, fixture.Tokenizer);
        var options = new GenerationOptions { MaxNewTokens = 30, Temperature = 1, Seed = 11 };
        var pieces = new List<string>();

        await foreach (var piece in generator.GenerateStreamingAsync("Once upon a time", options)) pieces.Add(piece);

        Assert.True(pieces.Count > 5, $"expected many pieces, got {pieces.Count}");
        Assert.Equal(generator.Generate("Once upon a time", options), string.Concat(pieces));
    }

    [Fact]
    public async Task OptionsReachTheDecoder()
    {
        using var client = Client();
        var greedy = new GenerationOptions { MaxNewTokens = 12, RepetitionPenalty = 1.3, StopStrings = PromptTemplate.Get("alpaca").EndOfTurnStrings };
        var prompt = new AlpacaTemplate().RenderPrompt(InstructionExample.FromInstruction("Give three tips for staying healthy."));

        var response = await client.GetResponseAsync(Question, new ChatOptions { MaxOutputTokens = 12, FrequencyPenalty = 0.3f });

        Assert.Equal(new TextGenerator(fixture.Model, fixture.Tokenizer).Generate(prompt, greedy).Trim(), response.Text);
        Assert.Equal(12, response.Usage!.OutputTokenCount);
    }

    [Fact]
    public async Task TheTemplateRendersTheConversation()
    {
        using var client = Client("chatml");
        var messages = new List<AIChatMessage>
        {
            new(AIChatRole.System, "Be brief."), new(AIChatRole.User, "Hi"), new(AIChatRole.Assistant, "Hello!"), new(AIChatRole.User, "Name a colour."),
        };
        var example = InstructionExample.FromMessages(new[]
        {
            new Turn(TurnRole.System, "Be brief."), new Turn(TurnRole.User, "Hi"),
            new Turn(TurnRole.Assistant, "Hello!"), new Turn(TurnRole.User, "Name a colour."),
        });
        int expected = new ExampleTokenizer(fixture.Tokenizer, new ChatMLTemplate()).EncodePrompt(example).Length;

        var response = await client.GetResponseAsync(messages, new ChatOptions { MaxOutputTokens = 1 });

        Assert.Equal(expected, response.Usage!.InputTokenCount);
    }

    [Fact]
    public async Task CancellingStopsTheStreamBetweenTokens()
    {
        using var client = Client();
        using var cts = new CancellationTokenSource();
        int seen = 0;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in client.GetStreamingResponseAsync(Question, Sampled(200), cts.Token))
            {
                if (update.Text.Length > 0 && ++seen == 2) cts.Cancel();
            }
        });
        Assert.Equal(2, seen);

        // The model is free again: the next request runs.
        Assert.Equal(3, (await client.GetResponseAsync(Question, new ChatOptions { MaxOutputTokens = 3 })).Usage!.OutputTokenCount);
    }

    [Fact]
    public async Task UnsupportedRequestsAreRefusedByName()
    {
        using var client = Client();

        var presence = await Assert.ThrowsAsync<NotSupportedException>(() => client.GetResponseAsync(Question, new ChatOptions { PresencePenalty = 0.5f }));
        Assert.Contains("PresencePenalty", presence.Message);
        var tools = await Assert.ThrowsAsync<NotSupportedException>(() => client.GetResponseAsync(Question,
            new ChatOptions { Tools = new List<AITool> { AIFunctionFactory.Create(() => 1, "one") } }));
        Assert.Contains("Tools", tools.Message);
        var image = await Assert.ThrowsAsync<NotSupportedException>(() => client.GetResponseAsync(new[]
        {
            new AIChatMessage(AIChatRole.User, new List<AIContent> { new DataContent(new byte[] { 1 }, "image/png") }),
        }));
        Assert.Contains("DataContent", image.Message);
        var lastTurn = await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync(new[] { new AIChatMessage(AIChatRole.User, "Hi"), new AIChatMessage(AIChatRole.Assistant, "Hello") }));
        Assert.Contains("last message", lastTurn.Message);
    }

    [Fact]
    public async Task MiddlewareAndServicesSeeTheModel()
    {
        using var inner = Client();
        int calls = 0;
        using var client = inner.AsBuilder()
            .Use((messages, options, next, ct) => { calls++; return next(messages, options, ct); })
            .Build();

        var response = await client.GetResponseAsync(Question, new ChatOptions { MaxOutputTokens = 2 });

        Assert.Equal(1, calls);
        Assert.Equal(2, response.Usage!.OutputTokenCount);
        Assert.Same(fixture.Model, client.GetService<LlamaForCausalLM>());
        Assert.Same(fixture.Tokenizer, client.GetService<TextTokenizer>());
        Assert.Equal("tiny", client.GetService<ChatClientMetadata>()!.DefaultModelId);
    }
}
