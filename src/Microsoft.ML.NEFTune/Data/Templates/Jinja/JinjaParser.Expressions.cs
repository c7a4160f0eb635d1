namespace Microsoft.ML.NEFTune.Data.Templates.Jinja;

/// <summary>The expression grammar: Jinja2's operators by precedence, from conditional expressions down to unary ones.</summary>
internal sealed partial class JinjaParser
{
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
}
