namespace Microsoft.ML.NEFTune.Data.Templates.Jinja;

// The syntax tree of a template: statements (what is written) and expressions (what is computed). Every node keeps
// its template line for error messages.

internal abstract record JinjaNode(int Line);

internal sealed record TextNode(string Text, int Line) : JinjaNode(Line);

internal sealed record OutputNode(JinjaExpr Value, int Line) : JinjaNode(Line);

internal sealed record IfNode(IReadOnlyList<(JinjaExpr Condition, IReadOnlyList<JinjaNode> Body)> Branches, IReadOnlyList<JinjaNode>? Else, int Line) : JinjaNode(Line);

internal sealed record ForNode(IReadOnlyList<string> Targets, JinjaExpr Iterable, JinjaExpr? Filter, IReadOnlyList<JinjaNode> Body, IReadOnlyList<JinjaNode>? Else, int Line) : JinjaNode(Line);

/// <summary><c>{% set a = x %}</c>, <c>{% set a, b = x %}</c> or <c>{% set ns.attr = x %}</c> (<see cref="Attribute"/> non-null).</summary>
internal sealed record SetNode(IReadOnlyList<string> Targets, string? Attribute, JinjaExpr Value, int Line) : JinjaNode(Line);

internal sealed record SetBlockNode(string Target, IReadOnlyList<JinjaNode> Body, int Line) : JinjaNode(Line);

internal sealed record MacroNode(string Name, IReadOnlyList<(string Name, JinjaExpr? Default)> Parameters, IReadOnlyList<JinjaNode> Body, int Line) : JinjaNode(Line);

internal sealed record FilterBlockNode(FilterExpr Filter, IReadOnlyList<JinjaNode> Body, int Line) : JinjaNode(Line);

/// <summary><c>{% generation %}…{% endgeneration %}</c>: the text the assistant generates (transformers' extension).</summary>
internal sealed record GenerationNode(IReadOnlyList<JinjaNode> Body, int Line) : JinjaNode(Line);

internal sealed record LoopControlNode(bool IsBreak, int Line) : JinjaNode(Line);

internal sealed record DoNode(JinjaExpr Value, int Line) : JinjaNode(Line);

internal abstract record JinjaExpr(int Line);

internal sealed record LiteralExpr(object? Value, int Line) : JinjaExpr(Line);

internal sealed record NameExpr(string Name, int Line) : JinjaExpr(Line);

internal sealed record ListExpr(IReadOnlyList<JinjaExpr> Items, int Line, bool IsTuple = false) : JinjaExpr(Line);

internal sealed record DictExpr(IReadOnlyList<(JinjaExpr Key, JinjaExpr Value)> Pairs, int Line) : JinjaExpr(Line);

internal sealed record AttributeExpr(JinjaExpr Target, string Name, int Line) : JinjaExpr(Line);

internal sealed record IndexExpr(JinjaExpr Target, JinjaExpr Index, int Line) : JinjaExpr(Line);

internal sealed record SliceExpr(JinjaExpr Target, JinjaExpr? Start, JinjaExpr? Stop, JinjaExpr? Step, int Line) : JinjaExpr(Line);

internal sealed record CallExpr(JinjaExpr Callee, IReadOnlyList<JinjaExpr> Args, IReadOnlyList<(string Name, JinjaExpr Value)> Kwargs, int Line) : JinjaExpr(Line);

internal sealed record FilterExpr(JinjaExpr? Value, string Name, IReadOnlyList<JinjaExpr> Args, IReadOnlyList<(string Name, JinjaExpr Value)> Kwargs, int Line) : JinjaExpr(Line);

internal sealed record TestExpr(JinjaExpr Value, string Name, IReadOnlyList<JinjaExpr> Args, bool Negated, int Line) : JinjaExpr(Line);

internal sealed record UnaryExpr(string Operator, JinjaExpr Operand, int Line) : JinjaExpr(Line);

internal sealed record BinaryExpr(string Operator, JinjaExpr Left, JinjaExpr Right, int Line) : JinjaExpr(Line);

internal sealed record CompareExpr(JinjaExpr First, IReadOnlyList<(string Operator, JinjaExpr Operand)> Rest, int Line) : JinjaExpr(Line);

internal sealed record ConditionalExpr(JinjaExpr Condition, JinjaExpr Then, JinjaExpr? Else, int Line) : JinjaExpr(Line);
