using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Data.Templates;
using Microsoft.ML.NEFTune.IO.Tokenizers;
using Microsoft.ML.NEFTune.Modeling;
using AIChatMessage = Microsoft.Extensions.AI.ChatMessage;
using AIChatRole = Microsoft.Extensions.AI.ChatRole;
using Turn = Microsoft.ML.NEFTune.Data.ChatMessage;
using TurnRole = Microsoft.ML.NEFTune.Data.ChatRole;

namespace Microsoft.ML.NEFTune.Generation;

/// <summary>
/// A <c>Microsoft.Extensions.AI</c> <see cref="IChatClient"/> over a loaded model, so that Semantic Kernel,
/// <c>ChatClientBuilder</c> middleware and other .NET AI code can talk to a tuned model.
/// </summary>
/// <remarks>
/// <para>The conversation is rendered with <see cref="Template"/>: <see cref="NeftuneChatClientOptions.Template"/> when
/// set, else the model's own chat template when it has one (rendered and tokenized as
/// <c>apply_chat_template(messages, add_generation_prompt=True)</c> does), else Alpaca. System messages and
/// <see cref="ChatOptions.Instructions"/> become the system prompt. Generation stops at the model's end-of-sequence ids or the template's end-of-turn markers
/// (<see cref="EndOfTurn"/>), and the answer is trimmed.
/// <see cref="GetStreamingResponseAsync"/> yields one update per settled piece of text (about one per token); their
/// text concatenates to <see cref="GetResponseAsync"/>'s for the same request.</para>
/// <para><see cref="ChatOptions"/> map to <see cref="GenerationOptions"/>: <c>MaxOutputTokens</c> → <c>MaxNewTokens</c>,
/// <c>Temperature</c>, <c>TopP</c>, <c>TopK</c>, <c>Seed</c> as named, <c>StopSequences</c> are added to the template's
/// stop strings, and <c>FrequencyPenalty</c> f becomes the Hugging Face repetition penalty 1 + f (which divides the
/// logit of every token already seen once, whatever its count; f must be greater than -1). Tools, presence penalty,
/// JSON response formats and non-text contents are refused with <see cref="NotSupportedException"/>.</para>
/// <para>Requests run one at a time per model (libtorch already uses every core for one). Cancellation is checked
/// before every token.</para>
/// </remarks>
public sealed class NeftuneChatClient : IChatClient
{
    private readonly Func<LlamaForCausalLM> model;
    private readonly LlamaForCausalLM? owned;
    private readonly TextTokenizer tokenizer;
    private readonly ExampleTokenizer encoder;
    private readonly EndOfTurn endOfTurn;
    private readonly object gate;
    private readonly ChatClientMetadata metadata;

    /// <summary>A chat client over <paramref name="model"/> and its tokenizer.</summary>
    /// <param name="model">The model; it is put in evaluation mode for each request (no NEFTune noise).</param>
    /// <param name="tokenizer">The model's tokenizer; needs an end-of-sequence id.</param>
    /// <param name="options">Template, default decoding settings and model id; null for the defaults.</param>
    public NeftuneChatClient(LlamaForCausalLM model, TextTokenizer tokenizer, NeftuneChatClientOptions? options = null)
        : this(Required(model), tokenizer, options, new object())
    {
        if (Options.DisposeModel) owned = model;
        if (tokenizer.VocabularyMismatch(model.Config.VocabSize) is { } mismatch) throw new ArgumentException($"The tokenizer does not fit the model: {mismatch}.", nameof(tokenizer));
    }

    /// <summary>
    /// A chat client over a model that another owner guards with <paramref name="gate"/> and may dispose;
    /// <paramref name="endOfTurn"/> is the template's, when the owner has read it already (null: read it from the tokenizer's folder).
    /// </summary>
    internal NeftuneChatClient(Func<LlamaForCausalLM> model, TextTokenizer tokenizer, NeftuneChatClientOptions? options, object gate, EndOfTurn? endOfTurn = null)
    {
        this.model = model;
        this.tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        Options = options ?? new NeftuneChatClientOptions();
        Options.Validate();
        Template = Options.Template ?? PromptTemplate.Resolve(ModelPromptTemplate.TemplateName, tokenizer);
        encoder = new ExampleTokenizer(tokenizer, Template);
        this.endOfTurn = endOfTurn ?? EndOfTurn.Of(Template, tokenizer);
        this.gate = gate;
        metadata = new ChatClientMetadata("Microsoft.ML.NEFTune", providerUri: null, defaultModelId: Options.ModelId);
    }

    private static Func<LlamaForCausalLM> Required(LlamaForCausalLM model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return () => model;
    }

    /// <summary>The client's settings.</summary>
    public NeftuneChatClientOptions Options { get; }

    /// <summary>The template prompts are rendered with: <see cref="NeftuneChatClientOptions.Template"/>, or the model's own chat template (Alpaca when it has none).</summary>
    public PromptTemplate Template { get; }

    /// <inheritdoc/>
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<AIChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var request = Prepare(messages, options);
        var created = DateTimeOffset.UtcNow;
        var ids = await Task.Factory.StartNew(() =>
        {
            lock (gate)
                return new TextGenerator(model(), tokenizer).GenerateIds(new[] { request.Prompt }, request.Generation, null, cancellationToken)[0];
        }, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        var text = StreamingTextDecoder.FinalText(tokenizer, ids, request.Generation.StopStrings, trim: true);
        bool stopped = ids.Length < request.Generation.MaxNewTokens || HitsStop(ids, request.Generation.StopStrings);
        return new ChatResponse(new AIChatMessage(AIChatRole.Assistant, text) { MessageId = request.Id })
        {
            ResponseId = request.Id,
            ModelId = Options.ModelId,
            CreatedAt = created,
            FinishReason = stopped ? ChatFinishReason.Stop : ChatFinishReason.Length,
            Usage = Usage(request.Prompt.Length, ids.Length),
        };
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<AIChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var request = Prepare(messages, options);
        var created = DateTimeOffset.UtcNow;
        var decoder = new StreamingTextDecoder(tokenizer, request.Generation.StopStrings, trim: true);
        var generator = new TextGenerator(model(), tokenizer);
        await foreach (var piece in generator.StreamText(request.Prompt, request.Generation, decoder, gate, cancellationToken).ConfigureAwait(false))
            yield return Update(request.Id, created, new List<AIContent> { new TextContent(piece) });
        bool stopped = decoder.HitStop || decoder.TokenCount < request.Generation.MaxNewTokens;
        var last = Update(request.Id, created, new List<AIContent> { new UsageContent(Usage(request.Prompt.Length, decoder.TokenCount)) });
        last.FinishReason = stopped ? ChatFinishReason.Stop : ChatFinishReason.Length;
        yield return last;
    }

    /// <summary>
    /// This client, its <see cref="ChatClientMetadata"/>, the <see cref="LlamaForCausalLM"/>, the
    /// <see cref="TextTokenizer"/> or the <see cref="PromptTemplate"/> when asked for that type without a key; otherwise null.
    /// </summary>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return metadata;
        if (serviceType.IsInstanceOfType(this)) return this;
        if (serviceType.IsAssignableFrom(typeof(LlamaForCausalLM))) return model();
        if (serviceType.IsInstanceOfType(tokenizer)) return tokenizer;
        if (serviceType.IsInstanceOfType(Template)) return Template;
        return null;
    }

    /// <summary>Disposes the model when <see cref="NeftuneChatClientOptions.DisposeModel"/> is set; otherwise does nothing.</summary>
    public void Dispose()
    {
        lock (gate) owned?.Dispose();
    }

    private ChatResponseUpdate Update(string id, DateTimeOffset created, IList<AIContent> contents) => new(AIChatRole.Assistant, contents)
    {
        ResponseId = id,
        MessageId = id,
        ModelId = Options.ModelId,
        CreatedAt = created,
    };

    private static UsageDetails Usage(int input, int output) => new() { InputTokenCount = input, OutputTokenCount = output, TotalTokenCount = input + output };

    private bool HitsStop(long[] ids, IReadOnlyList<string> stops)
    {
        var text = tokenizer.Decode(ids.Select(i => (int)i));
        return stops.Any(s => text.Contains(s, StringComparison.Ordinal));
    }

    internal sealed record Request(string Id, long[] Prompt, GenerationOptions Generation);

    /// <summary>Validates the request up front: the prompt ids and the decoding settings.</summary>
    internal Request Prepare(IEnumerable<AIChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var generation = Map(options);
        var turns = ToTurns(messages, options?.Instructions);
        InstructionExample example;
        try { example = InstructionExample.FromMessages(turns); }
        catch (ArgumentException e) { throw new ArgumentException($"The messages are not a conversation the template can render: {e.Message}", nameof(messages), e); }
        if (example.ToMessages().LastOrDefault()?.Role != TurnRole.User)
            throw new ArgumentException("The last message must be from the user: the model answers it.", nameof(messages));
        long[] prompt;
        try { prompt = encoder.EncodePrompt(example).Select(i => (long)i).ToArray(); }
        catch (ChatTemplateException e) { throw new ArgumentException($"The model's chat template refused the conversation: {e.Message}", nameof(messages), e); }
        var config = model().Config;
        if (config.RopeScaling is null && prompt.Length >= config.MaxPositionEmbeddings)
            throw new ArgumentException($"The prompt is {prompt.Length} tokens with the template, more than the model's context window of {config.MaxPositionEmbeddings}; shorten the conversation.", nameof(messages));
        if (config.RopeScaling is null && prompt.Length + generation.MaxNewTokens > config.MaxPositionEmbeddings)
            generation = generation with { MaxNewTokens = config.MaxPositionEmbeddings - prompt.Length };   // as the generator would
        return new Request(Guid.NewGuid().ToString("N"), prompt, generation);
    }

    private GenerationOptions Map(ChatOptions? options)
    {
        var defaults = Options.Generation;
        if (options is null) return endOfTurn.ApplyTo(defaults, model().Config);
        if (options.Tools is { Count: > 0 }) throw new NotSupportedException("ChatOptions.Tools: this model client does not call tools.");
        if (options.PresencePenalty is not null) throw new NotSupportedException("ChatOptions.PresencePenalty is not supported; use FrequencyPenalty (mapped to the repetition penalty 1 + f).");
        if (options.ResponseFormat is ChatResponseFormatJson) throw new NotSupportedException("ChatOptions.ResponseFormat: JSON output is not supported; this client generates text.");
        if (options.ModelId is { } id && !string.Equals(id, Options.ModelId, StringComparison.Ordinal))
            throw new NotSupportedException($"ChatOptions.ModelId '{id}': this client serves only the model '{Options.ModelId}'.");
        if (options.FrequencyPenalty is <= -1f) throw new ArgumentOutOfRangeException(nameof(options), options.FrequencyPenalty, "ChatOptions.FrequencyPenalty must be greater than -1 (it becomes the repetition penalty 1 + f).");
        if (options.MaxOutputTokens is < 0) throw new ArgumentOutOfRangeException(nameof(options), options.MaxOutputTokens, "ChatOptions.MaxOutputTokens must be >= 0.");
        var mapped = defaults with
        {
            MaxNewTokens = options.MaxOutputTokens ?? defaults.MaxNewTokens,
            Temperature = options.Temperature ?? defaults.Temperature,
            TopP = options.TopP ?? defaults.TopP,
            TopK = options.TopK ?? defaults.TopK,
            Seed = options.Seed ?? defaults.Seed,
            RepetitionPenalty = options.FrequencyPenalty is { } f ? 1.0 + f : defaults.RepetitionPenalty,
            StopStrings = defaults.StopStrings.Concat(options.StopSequences ?? Enumerable.Empty<string>()).ToArray(),
        };
        try { mapped.Validate(); }
        catch (ArgumentOutOfRangeException e) { throw new ArgumentOutOfRangeException(nameof(options), e.ActualValue, $"ChatOptions.{e.ParamName}: {e.Message}"); }
        return endOfTurn.ApplyTo(mapped, model().Config);
    }

    private static List<Turn> ToTurns(IEnumerable<AIChatMessage> messages, string? instructions)
    {
        var system = new List<string>();
        if (!string.IsNullOrWhiteSpace(instructions)) system.Add(instructions);
        var turns = new List<Turn>();
        foreach (var message in messages)
        {
            if (message is null) throw new ArgumentException("A message is null.", nameof(messages));
            foreach (var content in message.Contents)
                if (content is not TextContent and not UsageContent and not TextReasoningContent)
                    throw new NotSupportedException($"Message content of type {content.GetType().Name} is not supported; this model reads text only.");
            var role = message.Role;
            if (role == AIChatRole.System)
            {
                if (turns.Count > 0) throw new NotSupportedException("A system message after the first user message is not supported by the prompt templates.");
                system.Add(message.Text);
            }
            else if (role == AIChatRole.User) turns.Add(new Turn(TurnRole.User, message.Text));
            else if (role == AIChatRole.Assistant) turns.Add(new Turn(TurnRole.Assistant, message.Text));
            else throw new NotSupportedException($"Messages with the role '{role}' are not supported; use system, user and assistant.");
        }
        if (system.Count > 0) turns.Insert(0, new Turn(TurnRole.System, string.Join("\n\n", system)));
        return turns;
    }
}
