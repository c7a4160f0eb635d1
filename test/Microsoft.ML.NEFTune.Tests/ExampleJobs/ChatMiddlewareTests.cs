using Microsoft.Extensions.AI;
using Microsoft.ML.NEFTune.Examples;
using Microsoft.ML.NEFTune.Generation;
using Microsoft.ML.NEFTune.Tests.Generation;

namespace Microsoft.ML.NEFTune.Tests.ExampleJobs;

/// <summary>The chat middleware example (examples/ChatMiddleware) on a tiny model: the pipeline reaches the model and meters it.</summary>
public class ChatMiddlewareTests : IClassFixture<RandomChatModel>
{
    private readonly RandomChatModel fixture;

    public ChatMiddlewareTests(RandomChatModel fixture) => this.fixture = fixture;

    [Fact]
    public async Task TheMiddlewareStylesTheRequestAndMetersTheStreamedAnswer()
    {
        using var client = new NeftuneChatClient(fixture.Model, fixture.Tokenizer);
        var output = new StringWriter();
        var sampled = new ChatOptions { Temperature = 1f, Seed = 5, MaxOutputTokens = 64 };

        var (answer, usage) = await ChatMiddlewareSample.RunAsync(client, "Name a colour.", maxOutputTokens: 10, output, sampled);

        // What the model itself answers to the request the middleware makes: the house style as instructions, at most 10 tokens.
        var direct = await client.GetResponseAsync("Name a colour.", new ChatOptions { Temperature = 1f, Seed = 5, MaxOutputTokens = 10, Instructions = ChatMiddlewareSample.HouseStyle });
        Assert.Equal(direct.Text, answer);
        Assert.Equal(direct.Usage!.InputTokenCount, usage.InputTokenCount);
        Assert.Equal(10, usage.OutputTokenCount);
        Assert.Contains($"model> {answer}", output.ToString());
        Assert.Contains($"tokens: {usage.InputTokenCount} in, 10 out", output.ToString());
    }
}
