namespace Microsoft.ML.NEFTune.Data.Templates.Jinja;

/// <summary>The kinds of token inside a <c>{{ }}</c> or <c>{% %}</c> tag.</summary>
internal enum JinjaTokenKind
{
    Name,
    String,
    Integer,
    Float,
    Operator,
    End,
}

/// <summary>One token of a tag's expression; <see cref="Value"/> is the decoded string or number of a literal.</summary>
internal readonly record struct JinjaToken(JinjaTokenKind Kind, string Text, object? Value, int Line)
{
    public bool Is(string op) => (Kind == JinjaTokenKind.Operator || Kind == JinjaTokenKind.Name) && Text == op;

    public override string ToString() => Kind == JinjaTokenKind.End ? "end of tag" : $"'{Text}'";
}

/// <summary>A piece of template source: literal text, an output tag <c>{{ }}</c> or a statement tag <c>{% %}</c>.</summary>
internal sealed record JinjaPart(JinjaPartKind Kind, string Text, IReadOnlyList<JinjaToken> Tokens, int Line);

/// <summary>What a <see cref="JinjaPart"/> is.</summary>
internal enum JinjaPartKind
{
    Text,
    Output,
    Statement,
}
