namespace Microsoft.ML.NEFTune.Data.Templates;

/// <summary>Settings of one <see cref="ChatTemplate"/> render.</summary>
public sealed class ChatTemplateOptions
{
    /// <summary>What <c>strftime_now</c> returns (local time). Default: null, the current time; pin it for reproducible renders.</summary>
    public DateTime? Now { get; init; }

    /// <summary>
    /// Extra template variables, as keyword arguments to <c>apply_chat_template</c> (for example
    /// <c>enable_thinking</c> for Qwen3): strings, bools, numbers, lists of strings or any JSON as a
    /// <c>System.Text.Json.JsonElement</c>. Default: none.
    /// </summary>
    public IReadOnlyDictionary<string, object?>? Variables { get; init; }
}
