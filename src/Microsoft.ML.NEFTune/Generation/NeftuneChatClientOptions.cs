using Microsoft.ML.NEFTune.Data;

namespace Microsoft.ML.NEFTune.Generation;

/// <summary>Settings of a <see cref="NeftuneChatClient"/>; a request's <c>ChatOptions</c> override the decoding ones.</summary>
public sealed record NeftuneChatClientOptions
{
    /// <summary>
    /// How the conversation becomes the prompt: the template the model was tuned with (<see cref="PromptTemplate.Get"/>,
    /// <see cref="PromptTemplate.FromFile"/>, or a <see cref="Data.Templates.ModelPromptTemplate"/>). Generation stops
    /// at its end-of-turn markers (<see cref="EndOfTurn"/>). Default null: the model's own chat template (from the
    /// tokenizer's <c>tokenizer_config.json</c> or <c>chat_template.jinja</c>, rendered with
    /// <c>add_generation_prompt=True</c> and tokenized without an added BOS, as <c>apply_chat_template</c> does) when it
    /// has one, else the Alpaca template, the NEFTune authors' prompt.
    /// </summary>
    public PromptTemplate? Template { get; init; }

    /// <summary>
    /// Decoding settings used when a request does not set them: maximum tokens, temperature, top-k, top-p, repetition
    /// penalty, seed, extra stop strings. Default: greedy decoding of at most 256 tokens, no repetition penalty.
    /// </summary>
    public GenerationOptions Generation { get; init; } = new() { MaxNewTokens = 256 };

    /// <summary>The model name reported in responses and <c>ChatClientMetadata.DefaultModelId</c>. Default <c>neftune</c>.</summary>
    public string ModelId { get; init; } = "neftune";

    /// <summary>Whether disposing the client disposes the model. Default false (the caller keeps ownership).</summary>
    public bool DisposeModel { get; init; }

    internal void Validate()
    {
        if (Generation is null) throw new ArgumentNullException(nameof(Generation), $"{nameof(NeftuneChatClientOptions)}.{nameof(Generation)} must be set.");
        Generation.Validate();
        if (string.IsNullOrWhiteSpace(ModelId)) throw new ArgumentException($"{nameof(NeftuneChatClientOptions)}.{nameof(ModelId)} must not be empty.", nameof(ModelId));
    }
}
