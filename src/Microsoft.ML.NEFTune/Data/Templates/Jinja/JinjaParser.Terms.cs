namespace Microsoft.ML.NEFTune.Data.Templates.Jinja;

/// <summary>The terms of an expression: filters and tests, call arguments, literals and names, attribute access, calls and subscripts.</summary>
internal sealed partial class JinjaParser
{
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
