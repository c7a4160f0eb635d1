using Microsoft.Extensions.AI;

namespace Microsoft.ML.NEFTune.Examples;

/// <summary>
/// A tuned model behind <c>ChatClientBuilder</c> middleware, as any .NET app composes chat clients: an outer
/// <see cref="UsageMeter"/> (a <see cref="DelegatingChatClient"/>) and an inner step that gives every request the
/// house style (instructions and a token limit). The same pipeline serves streaming and non-streaming requests.
/// </summary>
public static class ChatMiddlewareSample
{
    public const string HouseStyle = "Answer briefly and politely.";

    /// <summary>The model's client with the middleware around it; <paramref name="usage"/> accumulates every request's token counts.</summary>
    public static IChatClient Compose(IChatClient model, UsageDetails usage, int maxOutputTokens) =>
        model.AsBuilder()
            .Use(inner => new UsageMeter(inner, usage))
            .Use((messages, options, next, cancellationToken) =>
            {
                var styled = options?.Clone() ?? new ChatOptions();
                styled.Instructions = styled.Instructions is { Length: > 0 } own ? HouseStyle + "\n" + own : HouseStyle;
                styled.MaxOutputTokens = Math.Min(styled.MaxOutputTokens ?? maxOutputTokens, maxOutputTokens);
                return next(messages, styled, cancellationToken);
            })
            .Build();

    /// <summary>Streams the answer to <paramref name="question"/> to <paramref name="output"/>; returns the answer and the tokens counted.</summary>
    public static async Task<(string Answer, UsageDetails Usage)> RunAsync(IChatClient model, string question, int maxOutputTokens, TextWriter output,
        ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var usage = new UsageDetails();
        using var chat = Compose(model, usage, maxOutputTokens);
        var answer = new System.Text.StringBuilder();
        output.WriteLine($"user> {question}");
        output.Write("model> ");
        await foreach (var update in chat.GetStreamingResponseAsync(question, options, cancellationToken))
        {
            output.Write(update.Text);
            answer.Append(update.Text);
        }
        output.WriteLine();
        output.WriteLine($"tokens: {usage.InputTokenCount} in, {usage.OutputTokenCount} out");
        return (answer.ToString(), usage);
    }
}

/// <summary>Middleware that adds up the token counts of every response passing through it (streamed or not).</summary>
public sealed class UsageMeter(IChatClient inner, UsageDetails total) : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var response = await base.GetResponseAsync(messages, options, cancellationToken);
        if (response.Usage is { } usage) Add(usage);
        return response;
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken))
        {
            foreach (var usage in update.Contents.OfType<UsageContent>()) Add(usage.Details);
            yield return update;
        }
    }

    private void Add(UsageDetails usage)
    {
        lock (total) total.Add(usage);
    }
}
