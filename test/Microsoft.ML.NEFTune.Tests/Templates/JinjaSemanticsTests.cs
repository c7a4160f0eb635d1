using System.Text.Json;
using Microsoft.ML.NEFTune.Data.Templates;

namespace Microsoft.ML.NEFTune.Tests.Templates;

/// <summary>
/// Jinja semantics chat templates rely on (scoping, whitespace control, loops, Python values, filters, tojson, macros,
/// strftime_now, raise_exception) render as Python jinja2 set up as transformers sets it up
/// (Fixtures/ChatTemplates/jinja-cases.json, expected outputs from eng/references/render_jinja_cases.py).
/// </summary>
public class JinjaSemanticsTests
{
    public static TheoryData<string> CaseNames => new(Cases().Select(c => c.GetProperty("name").GetString()!));

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void RendersAsJinja2(string name)
    {
        var c = Cases().Single(x => x.GetProperty("name").GetString() == name);
        var template = ChatTemplate.FromString(c.GetProperty("template").GetString()!);
        var options = new ChatTemplateOptions
        {
            Now = new DateTime(2025, 3, 7, 9, 5, 3),
            Variables = c.TryGetProperty("variables", out var variables) ? variables.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value) : null,
        };
        var render = () => template.Render(Array.Empty<(string, string)>(), false, options);
        if (c.TryGetProperty("error", out var error))
        {
            var ex = Assert.Throws<ChatTemplateException>(() => render());
            Assert.True(ex.RaisedByTemplate);
            Assert.Equal(error.GetString(), ex.Message);
            Assert.Equal(2, ex.Line);
        }
        else
        {
            Assert.Equal(c.GetProperty("expected").GetString(), render());
        }
    }

    private static IEnumerable<JsonElement> Cases()
    {
        string path = Path.Combine(ChatTemplateFixtures.Directory, "jinja-cases.json");
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        return document.RootElement.Clone().EnumerateArray().ToArray();
    }
}
