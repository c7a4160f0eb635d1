using Microsoft.ML.NEFTune.Data.Templates;

namespace Microsoft.ML.NEFTune.Tests.Templates;

/// <summary>What the interpreter refuses, and that every refusal names the template line.</summary>
public class ChatTemplateErrorTests
{
    private static readonly (string, string)[] OneTurn = { ("user", "hi") };

    private static ChatTemplateException Fails(string template)
    {
        var ex = Assert.Throws<ChatTemplateException>(() => ChatTemplate.FromString(template).Render(OneTurn));
        Assert.False(ex.RaisedByTemplate);
        return ex;
    }

    [Theory]
    [InlineData("a\n{% include 'other.jinja' %}", 2, "'{% include %}' is not supported")]
    [InlineData("a\nb\n{{ messages | wordwrap(3) }}", 3, "the filter 'wordwrap' is not supported")]
    [InlineData("{% if x is prime %}{% endif %}", 1, "the test 'prime' is not supported")]
    [InlineData("\n{% for m in messages recursive %}{% endfor %}", 2, "recursive for loops are not supported")]
    [InlineData("{{ '%s' % 1 }}", 1, "printf-style string formatting")]
    [InlineData("{{ 'a'.format() }}", 1, "str.format() is not supported")]
    [InlineData("\n\n{{ messages.append(1) }}", 3, "would change a list")]
    [InlineData("{% if true %}", 1, "the template ends before '{% endif %}'")]
    [InlineData("{{ 1 +", 1, "never closed")]
    [InlineData("{{ messages[0].content.__class__ }}", 1, "access to attribute '__class__' is not allowed")]
    public void UnsupportedOrBrokenTemplatesNameTheLine(string template, int line, string problem)
    {
        var ex = Fails(template);
        Assert.Equal(line, ex.Line);
        Assert.StartsWith($"chat template line {line}: ", ex.Message);
        Assert.Contains(problem, ex.Message);
    }

    [Fact]
    public void UndefinedValuesInArithmeticAreErrorsNotEmptyText()
    {
        var ex = Fails("{{ bos_token + 'x' }}");
        Assert.Contains("'bos_token' is undefined", ex.Message);
    }

    [Fact]
    public void PythonInternalsAreNotReachable()
    {
        // Attribute access only reaches template values: no .NET or Python object model behind them.
        var template = ChatTemplate.FromString("{{ messages.__len__ is defined }}{{ 'x'.GetType is defined }}{{ namespace.__init__ is defined }}");
        Assert.Equal("FalseFalseFalse", template.Render(OneTurn));
    }

    [Fact]
    public void LoopsAreBounded()
    {
        var ex = Fails("{% for i in range(2000) %}{% for j in range(2000) %}{% endfor %}{% endfor %}");
        Assert.Contains("loop iterations", ex.Message);
        Assert.Contains("list longer than", Fails("{{ range(100000000) | length }}").Message);
    }

    [Fact]
    public void RecursionIsBounded()
    {
        var ex = Fails("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
        Assert.Contains("nested deeper than", ex.Message);
    }

    [Fact]
    public void OutputIsBounded()
    {
        var ex = Fails("{% set s = 'x' * 1000000 %}{% for i in range(100) %}{{ s }}{% endfor %}");
        Assert.Contains("longer than", ex.Message);
    }

    [Fact]
    public void RaiseExceptionGivesTheTemplatesMessageExactly()
    {
        var template = ChatTemplate.FromString("{% for m in messages %}\n{% if m.role == 'user' %}{{ raise_exception('Only assistants here') }}{% endif %}{% endfor %}");
        var ex = Assert.Throws<ChatTemplateException>(() => template.Render(OneTurn));
        Assert.True(ex.RaisedByTemplate);
        Assert.Equal("Only assistants here", ex.Message);
        Assert.Equal(2, ex.Line);
    }
}
