namespace Microsoft.ML.NEFTune.Data;

/// <summary>
/// Renames the JSON fields <see cref="DatasetReader"/> looks for. A null property keeps the format's default name
/// (given in each property's summary).
/// </summary>
public sealed record FieldMapping
{
    /// <summary>The instruction (Alpaca, Dolly). Default <c>instruction</c>.</summary>
    public string? Instruction { get; init; }

    /// <summary>The optional input (Alpaca <c>input</c>, Dolly <c>context</c>).</summary>
    public string? Input { get; init; }

    /// <summary>The response (Alpaca <c>output</c>, Dolly <c>response</c>).</summary>
    public string? Output { get; init; }

    /// <summary>The document (Text). Default <c>text</c>.</summary>
    public string? Text { get; init; }

    /// <summary>The list of turns (ShareGPT <c>conversations</c>, Messages <c>messages</c>).</summary>
    public string? Messages { get; init; }

    /// <summary>Who speaks in a turn (ShareGPT <c>from</c>, Messages <c>role</c>).</summary>
    public string? Role { get; init; }

    /// <summary>What a turn says (ShareGPT <c>value</c>, Messages <c>content</c>).</summary>
    public string? Content { get; init; }

    /// <summary>An optional top-level system prompt (ShareGPT, Messages). Default <c>system</c>.</summary>
    public string? System { get; init; }

    /// <summary>Throws when a set field name is empty.</summary>
    public void Validate()
    {
        Check(Instruction, nameof(Instruction));
        Check(Input, nameof(Input));
        Check(Output, nameof(Output));
        Check(Text, nameof(Text));
        Check(Messages, nameof(Messages));
        Check(Role, nameof(Role));
        Check(Content, nameof(Content));
        Check(System, nameof(System));
    }

    private static void Check(string? value, string name)
    {
        if (value is not null && value.Length == 0)
            throw new ArgumentException($"The field name for {name} must not be empty.", name);
    }
}
