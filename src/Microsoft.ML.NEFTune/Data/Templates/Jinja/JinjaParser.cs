namespace Microsoft.ML.NEFTune.Data.Templates.Jinja;

/// <summary>
/// Parses the parts of <see cref="JinjaLexer"/> into a syntax tree with Jinja2's grammar and operator precedence
/// (conditional &lt; or &lt; and &lt; not &lt; comparisons &lt; + - &lt; ~ &lt; * / // % &lt; ** &lt; unary &lt; filters, tests and
/// postfix access). Statements: if/elif/else, for (with a filter and else), set (and block set), macro, filter
/// blocks, generation, break/continue, do. Anything else is refused with its line.
/// </summary>
internal sealed class JinjaParser
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

    /// <summary>An expression, or a bare tuple <c>a, b</c> (as on the right of <c>set</c>).</summary>
    private JinjaExpr ParseTupleOrExpression()
    {
        var first = ParseExpression();
        if (!Peek().Is(",")) return first;
        var items = new List<JinjaExpr> { first };
        while (Peek().Is(","))
        {
            pos++;
            if (Peek().Kind == JinjaTokenKind.End) break;
            items.Add(ParseExpression());
        }

        return new ListExpr(items, first.Line, IsTuple: true);
    }

    private JinjaExpr ParseExpression()
    {
        var value = ParseOr();
        if (!Peek().Is("if")) return value;
        int line = Next().Line;
        var condition = ParseOr();
        JinjaExpr? otherwise = null;
        if (Peek().Is("else"))
        {
            pos++;
            otherwise = ParseExpression();
        }

        return new ConditionalExpr(condition, value, otherwise, line);
    }

    /// <summary>An expression without a trailing conditional (the iterable of a for loop, whose <c>if</c> is a filter).</summary>
    private JinjaExpr ParseConditionalFree() => ParseOr();

    private JinjaExpr ParseOr()
    {
        var left = ParseAnd();
        while (Peek().Is("or"))
        {
            int line = Next().Line;
            left = new BinaryExpr("or", left, ParseAnd(), line);
        }

        return left;
    }

    private JinjaExpr ParseAnd()
    {
        var left = ParseNot();
        while (Peek().Is("and"))
        {
            int line = Next().Line;
            left = new BinaryExpr("and", left, ParseNot(), line);
        }

        return left;
    }

    private JinjaExpr ParseNot()
    {
        if (Peek().Is("not"))
        {
            int line = Next().Line;
            return new UnaryExpr("not", ParseNot(), line);
        }

        return ParseCompare();
    }

    private JinjaExpr ParseCompare()
    {
        var first = ParseMath1();
        var rest = new List<(string, JinjaExpr)>();
        while (true)
        {
            var token = Peek();
            if (token.Kind == JinjaTokenKind.Operator && CompareOperators.Contains(token.Text))
            {
                pos++;
                rest.Add((token.Text, ParseMath1()));
            }
            else if (token.Is("in"))
            {
                pos++;
                rest.Add(("in", ParseMath1()));
            }
            else if (token.Is("not") && Peek(1).Is("in"))
            {
                pos += 2;
                rest.Add(("not in", ParseMath1()));
            }
            else
            {
                break;
            }
        }

        return rest.Count == 0 ? first : new CompareExpr(first, rest, first.Line);
    }

    private JinjaExpr ParseMath1()
    {
        var left = ParseConcat();
        while (Peek().Is("+") || Peek().Is("-"))
        {
            var op = Next();
            left = new BinaryExpr(op.Text, left, ParseConcat(), op.Line);
        }

        return left;
    }

    private JinjaExpr ParseConcat()
    {
        var left = ParseMath2();
        while (Peek().Is("~"))
        {
            var op = Next();
            left = new BinaryExpr("~", left, ParseMath2(), op.Line);
        }

        return left;
    }

    private JinjaExpr ParseMath2()
    {
        var left = ParsePow();
        while (Peek().Is("*") || Peek().Is("/") || Peek().Is("//") || Peek().Is("%"))
        {
            var op = Next();
            left = new BinaryExpr(op.Text, left, ParsePow(), op.Line);
        }

        return left;
    }

    private JinjaExpr ParsePow()
    {
        var left = ParseUnary();
        while (Peek().Is("**"))
        {
            var op = Next();
            left = new BinaryExpr("**", left, ParseUnary(), op.Line);
        }

        return left;
    }

    private JinjaExpr ParseUnary(bool withFilters = true)
    {
        var token = Peek();
        JinjaExpr value;
        if (token.Kind == JinjaTokenKind.Operator && (token.Text == "-" || token.Text == "+"))
        {
            pos++;
            value = ParsePostfix(new UnaryExpr(token.Text, ParseUnary(withFilters: false), token.Line));
        }
        else
        {
            value = ParsePostfix(ParsePrimary());
        }

        return withFilters ? ParseFiltersAndTests(value) : value;
    }

    private JinjaExpr ParseFiltersAndTests(JinjaExpr value)
    {
        while (true)
        {
            var token = Peek();
            if (token.Is("|"))
            {
                pos++;
                value = ParsePostfix(ParseFilterCall(value, token.Line));
            }
            else if (token.Is("is"))
            {
                pos++;
                bool negated = false;
                if (Peek().Is("not"))
                {
                    pos++;
                    negated = true;
                }

                var nameToken = Next();
                if (nameToken.Kind != JinjaTokenKind.Name && !(nameToken.Kind == JinjaTokenKind.Operator && CompareOperators.Contains(nameToken.Text)))
                    throw Error($"expected a test name after 'is' but found {nameToken}", nameToken.Line);
                string name = nameToken.Text;
                var args = new List<JinjaExpr>();
                if (Peek().Is("("))
                {
                    pos++;
                    var (positional, keywords) = ParseArguments();
                    if (keywords.Count > 0) throw Error($"the test '{name}' takes no keyword arguments", token.Line);
                    args.AddRange(positional);
                }
                else if (StartsTestArgument(Peek()))
                {
                    args.Add(ParsePostfix(ParsePrimary()));
                }

                value = new TestExpr(value, name, args, negated, token.Line);
            }
            else
            {
                return value;
            }
        }
    }

    private static bool StartsTestArgument(JinjaToken token) =>
        token.Kind is JinjaTokenKind.String or JinjaTokenKind.Integer or JinjaTokenKind.Float ||
        (token.Kind == JinjaTokenKind.Name && !Reserved.Contains(token.Text)) ||
        token.Is("true") || token.Is("false") || token.Is("none") || token.Is("True") || token.Is("False") || token.Is("None");

    private FilterExpr ParseFilterCall(JinjaExpr? value, int line)
    {
        string name = ExpectName();
        while (Peek().Is(".")) // dotted filter names
        {
            pos++;
            name += "." + ExpectName();
        }

        IReadOnlyList<JinjaExpr> args = Array.Empty<JinjaExpr>();
        IReadOnlyList<(string, JinjaExpr)> kwargs = Array.Empty<(string, JinjaExpr)>();
        if (Peek().Is("("))
        {
            pos++;
            (args, kwargs) = ParseArguments();
        }

        return new FilterExpr(value, name, args, kwargs, line);
    }

    /// <summary>Call arguments after the opening parenthesis, through the closing one.</summary>
    private (List<JinjaExpr> Args, List<(string, JinjaExpr)> Kwargs) ParseArguments()
    {
        var args = new List<JinjaExpr>();
        var kwargs = new List<(string, JinjaExpr)>();
        while (!Peek().Is(")"))
        {
            var token = Peek();
            if (token.Is("*") || token.Is("**")) throw Error("argument unpacking (*args, **kwargs) is not supported", token.Line);
            if (token.Kind == JinjaTokenKind.Name && Peek(1).Is("="))
            {
                pos += 2;
                kwargs.Add((token.Text, ParseExpression()));
            }
            else
            {
                if (kwargs.Count > 0) throw Error("a positional argument follows a keyword argument", token.Line);
                args.Add(ParseExpression());
            }

            if (!Peek().Is(")")) Expect(",");
        }

        pos++;
        return (args, kwargs);
    }

    private JinjaExpr ParsePrimary()
    {
        var token = Next();
        switch (token.Kind)
        {
            case JinjaTokenKind.String:
            {
                // Adjacent string literals concatenate, as in Python.
                string text = (string)token.Value!;
                while (Peek().Kind == JinjaTokenKind.String) text += (string)Next().Value!;
                return new LiteralExpr(text, token.Line);
            }

            case JinjaTokenKind.Integer:
            case JinjaTokenKind.Float:
                return new LiteralExpr(token.Value, token.Line);
            case JinjaTokenKind.Name:
                return token.Text switch
                {
                    "true" or "True" => new LiteralExpr(true, token.Line),
                    "false" or "False" => new LiteralExpr(false, token.Line),
                    "none" or "None" => new LiteralExpr(null, token.Line),
                    _ when Reserved.Contains(token.Text) => throw Error($"unexpected keyword '{token.Text}'", token.Line),
                    _ => new NameExpr(token.Text, token.Line),
                };
            case JinjaTokenKind.Operator when token.Text == "(":
            {
                if (Peek().Is(")"))
                {
                    pos++;
                    return new ListExpr(Array.Empty<JinjaExpr>(), token.Line, IsTuple: true);
                }

                var first = ParseExpression();
                if (Peek().Is(")"))
                {
                    pos++;
                    return first;
                }

                var items = new List<JinjaExpr> { first };
                while (Peek().Is(","))
                {
                    pos++;
                    if (Peek().Is(")")) break;
                    items.Add(ParseExpression());
                }

                Expect(")");
                return new ListExpr(items, token.Line, IsTuple: true);
            }

            case JinjaTokenKind.Operator when token.Text == "[":
            {
                var items = new List<JinjaExpr>();
                while (!Peek().Is("]"))
                {
                    items.Add(ParseExpression());
                    if (!Peek().Is("]")) Expect(",");
                }

                pos++;
                return new ListExpr(items, token.Line);
            }

            case JinjaTokenKind.Operator when token.Text == "{":
            {
                var pairs = new List<(JinjaExpr, JinjaExpr)>();
                while (!Peek().Is("}"))
                {
                    var key = ParseExpression();
                    Expect(":");
                    pairs.Add((key, ParseExpression()));
                    if (!Peek().Is("}")) Expect(",");
                }

                pos++;
                return new DictExpr(pairs, token.Line);
            }

            default:
                throw Error($"unexpected {token} in an expression", token.Line);
        }
    }

    private JinjaExpr ParsePostfix(JinjaExpr value)
    {
        while (true)
        {
            var token = Peek();
            if (token.Is("."))
            {
                pos++;
                var name = Next();
                if (name.Kind == JinjaTokenKind.Name) value = new AttributeExpr(value, name.Text, token.Line);
                else if (name.Kind == JinjaTokenKind.Integer) value = new IndexExpr(value, new LiteralExpr(name.Value, name.Line), token.Line);
                else throw Error($"expected an attribute name after '.' but found {name}", name.Line);
            }
            else if (token.Is("["))
            {
                pos++;
                value = ParseSubscript(value, token.Line);
            }
            else if (token.Is("("))
            {
                pos++;
                var (args, kwargs) = ParseArguments();
                value = new CallExpr(value, args, kwargs, token.Line);
            }
            else
            {
                return value;
            }
        }
    }

    private JinjaExpr ParseSubscript(JinjaExpr target, int line)
    {
        JinjaExpr? start = null, stop = null, step = null;
        if (!Peek().Is(":")) start = ParseExpression();
        if (Peek().Is("]"))
        {
            pos++;
            return new IndexExpr(target, start ?? throw Error("an empty subscript []", line), line);
        }

        Expect(":");
        if (!Peek().Is(":") && !Peek().Is("]")) stop = ParseExpression();
        if (Peek().Is(":"))
        {
            pos++;
            if (!Peek().Is("]")) step = ParseExpression();
        }

        Expect("]");
        return new SliceExpr(target, start, stop, step, line);
    }
}
