namespace Microsoft.ML.NEFTune.Data.Templates.Jinja;

/// <summary>
/// Parses the parts of <see cref="JinjaLexer"/> into a syntax tree with Jinja2's grammar and operator precedence
/// (conditional &lt; or &lt; and &lt; not &lt; comparisons &lt; + - &lt; ~ &lt; * / // % &lt; ** &lt; unary &lt; filters, tests and
/// postfix access). Statements: if/elif/else, for (with a filter and else), set (and block set), macro, filter
/// blocks, generation, break/continue, do. Anything else is refused with its line.
/// </summary>
internal sealed partial class JinjaParser
{
    private static readonly HashSet<string> CompareOperators = new() { "==", "!=", "<", ">", "<=", ">=" };
    private static readonly HashSet<string> Reserved = new() { "and", "or", "not", "in", "is", "if", "else", "true", "false", "none", "True", "False", "None" };

    private readonly List<JinjaPart> parts;
    private int partIndex;
    private IReadOnlyList<JinjaToken> tokens = Array.Empty<JinjaToken>();
    private int pos;

    private JinjaParser(List<JinjaPart> parts) => this.parts = parts;

    public static IReadOnlyList<JinjaNode> Parse(string source)
    {
        var parser = new JinjaParser(JinjaLexer.Tokenize(source));
        var body = parser.ParseBlock(Array.Empty<string>(), out string? end);
        if (end is not null) throw new ChatTemplateException($"unexpected '{{% {end} %}}'", parser.parts[parser.partIndex - 1].Line);
        return body;
    }

    /// <summary>Parses statements until one of <paramref name="terminators"/> (returned in <paramref name="end"/>) or the end of the template.</summary>
    private List<JinjaNode> ParseBlock(IReadOnlyCollection<string> terminators, out string? end)
    {
        var body = new List<JinjaNode>();
        while (partIndex < parts.Count)
        {
            var part = parts[partIndex++];
            switch (part.Kind)
            {
                case JinjaPartKind.Text:
                    body.Add(new TextNode(part.Text, part.Line));
                    break;
                case JinjaPartKind.Output:
                    Begin(part);
                    var value = ParseExpression();
                    ExpectEnd();
                    body.Add(new OutputNode(value, part.Line));
                    break;
                default:
                    Begin(part);
                    var keyword = Next();
                    if (keyword.Kind != JinjaTokenKind.Name) throw Error($"a statement tag must start with a keyword, not {keyword}", keyword.Line);
                    if (terminators.Contains(keyword.Text))
                    {
                        end = keyword.Text;
                        return body;
                    }

                    body.Add(ParseStatement(keyword));
                    break;
            }
        }

        if (terminators.Count > 0)
            throw Error($"the template ends before '{{% {terminators.FirstOrDefault(t => t.StartsWith("end", StringComparison.Ordinal)) ?? terminators.First()} %}}'", parts.Count > 0 ? parts[^1].Line : 1);
        end = null;
        return body;
    }

    private JinjaNode ParseStatement(JinjaToken keyword)
    {
        int line = keyword.Line;
        switch (keyword.Text)
        {
            case "if":
            {
                var branches = new List<(JinjaExpr, IReadOnlyList<JinjaNode>)>();
                var condition = ParseExpression();
                ExpectEnd();
                while (true)
                {
                    var body = ParseBlock(new[] { "elif", "else", "endif" }, out string? end);
                    branches.Add((condition, body));
                    if (end == "elif")
                    {
                        condition = ParseExpression();
                        ExpectEnd();
                        continue;
                    }

                    if (end == "else")
                    {
                        ExpectEnd();
                        var elseBody = ParseBlock(new[] { "endif" }, out _);
                        ExpectEnd();
                        return new IfNode(branches, elseBody, line);
                    }

                    ExpectEnd();
                    return new IfNode(branches, null, line);
                }
            }

            case "for":
            {
                var targets = new List<string> { ExpectName() };
                while (Peek().Is(","))
                {
                    pos++;
                    targets.Add(ExpectName());
                }

                ExpectKeyword("in");
                var iterable = ParseConditionalFree();
                JinjaExpr? filter = null;
                if (Peek().Is("if"))
                {
                    pos++;
                    filter = ParseConditionalFree();
                }

                if (Peek().Is("recursive")) throw Error("recursive for loops are not supported", line);
                ExpectEnd();
                var body = ParseBlock(new[] { "else", "endfor" }, out string? end);
                List<JinjaNode>? elseBody = null;
                ExpectEnd();
                if (end == "else")
                {
                    elseBody = ParseBlock(new[] { "endfor" }, out _);
                    ExpectEnd();
                }

                return new ForNode(targets, iterable, filter, body, elseBody, line);
            }

            case "set":
            {
                string first = ExpectName();
                if (Peek().Is("."))
                {
                    pos++;
                    string attribute = ExpectName();
                    Expect("=");
                    var value = ParseTupleOrExpression();
                    ExpectEnd();
                    return new SetNode(new[] { first }, attribute, value, line);
                }

                var targets = new List<string> { first };
                while (Peek().Is(","))
                {
                    pos++;
                    targets.Add(ExpectName());
                }

                if (Peek().Kind == JinjaTokenKind.End)
                {
                    if (targets.Count > 1) throw Error("a block set takes a single name", line);
                    pos++;
                    var body = ParseBlock(new[] { "endset" }, out _);
                    ExpectEnd();
                    return new SetBlockNode(first, body, line);
                }

                if (Peek().Is("|")) throw Error("filtered block set ({% set x | filter %}) is not supported", line);
                Expect("=");
                var assigned = ParseTupleOrExpression();
                ExpectEnd();
                return new SetNode(targets, null, assigned, line);
            }

            case "macro":
            {
                string name = ExpectName();
                Expect("(");
                var parameters = new List<(string, JinjaExpr?)>();
                while (!Peek().Is(")"))
                {
                    string parameter = ExpectName();
                    JinjaExpr? defaultValue = null;
                    if (Peek().Is("="))
                    {
                        pos++;
                        defaultValue = ParseExpression();
                    }

                    parameters.Add((parameter, defaultValue));
                    if (!Peek().Is(")")) Expect(",");
                }

                pos++;
                ExpectEnd();
                var body = ParseBlock(new[] { "endmacro" }, out _);
                ExpectEnd();
                return new MacroNode(name, parameters, body, line);
            }

            case "filter":
            {
                var filter = ParseFilterCall(null, line);
                ExpectEnd();
                var body = ParseBlock(new[] { "endfilter" }, out _);
                ExpectEnd();
                return new FilterBlockNode(filter, body, line);
            }

            case "generation":
            {
                ExpectEnd();
                var body = ParseBlock(new[] { "endgeneration" }, out _);
                ExpectEnd();
                return new GenerationNode(body, line);
            }

            case "break":
            case "continue":
                ExpectEnd();
                return new LoopControlNode(keyword.Text == "break", line);

            case "do":
            {
                var value = ParseExpression();
                ExpectEnd();
                return new DoNode(value, line);
            }

            default:
                throw Error($"the statement '{{% {keyword.Text} %}}' is not supported (supported: if, for, set, macro, filter, generation, break, continue, do)", line);
        }
    }

    private void Begin(JinjaPart part)
    {
        tokens = part.Tokens;
        pos = 0;
    }

    private JinjaToken Peek(int ahead = 0) => tokens[Math.Min(pos + ahead, tokens.Count - 1)];

    private JinjaToken Next() => tokens[Math.Min(pos++, tokens.Count - 1)];

    private void Expect(string op)
    {
        var token = Next();
        if (!token.Is(op)) throw Error($"expected '{op}' but found {token}", token.Line);
    }

    private void ExpectKeyword(string keyword) => Expect(keyword);

    private string ExpectName()
    {
        var token = Next();
        if (token.Kind != JinjaTokenKind.Name || Reserved.Contains(token.Text)) throw Error($"expected a name but found {token}", token.Line);
        return token.Text;
    }

    private void ExpectEnd()
    {
        var token = Next();
        if (token.Kind != JinjaTokenKind.End) throw Error($"unexpected {token} before the end of the tag", token.Line);
    }

    private static ChatTemplateException Error(string message, int line) => new(message, line);
}
