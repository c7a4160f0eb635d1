using Microsoft.ML.NEFTune.Data.Templates;

namespace Microsoft.ML.NEFTune.Tests.Templates;

/// <summary>Real model templates render exactly as the outside references render them.</summary>
public class ChatTemplateReferenceTests
{
    public static TheoryData<string> TemplateNames => new(ChatTemplateFixtures.TemplateNames);

    [Theory]
    [MemberData(nameof(TemplateNames))]
    public void RendersEveryConversationAsTheReference(string name)
    {
        var template = ChatTemplateFixtures.Template(name);
        var options = new ChatTemplateOptions { Now = ChatTemplateFixtures.PinnedDate };
        int checkedRenders = 0;
        foreach (var (conversation, addGenerationPrompt, text, error) in ChatTemplateFixtures.Renders(name))
        {
            string where = $"{name} / {conversation} / add_generation_prompt={addGenerationPrompt}";
            var messages = ChatTemplateFixtures.Conversation(conversation);
            if (error is not null)
            {
                var ex = Assert.Throws<ChatTemplateException>(() => template.Render(messages, addGenerationPrompt, options));
                Assert.True(ex.RaisedByTemplate, $"{where}: expected the template's own error, got: {ex.Message}");
                Assert.Equal(error, ex.Message);
            }
            else
            {
                string actual;
                try
                {
                    actual = template.Render(messages, addGenerationPrompt, options);
                }
                catch (ChatTemplateException ex)
                {
                    throw new Xunit.Sdk.XunitException($"{where}: {ex.Message}");
                }

                if (actual != text)
                {
                    int at = Enumerable.Range(0, Math.Min(actual.Length, text!.Length)).FirstOrDefault(i => actual[i] != text[i], Math.Min(actual.Length, text.Length));
                    throw new Xunit.Sdk.XunitException($"{where}: first difference at {at}\nexpected: {Escape(text[Math.Max(0, at - 40)..Math.Min(text.Length, at + 60)])}\nactual:   {Escape(actual[Math.Max(0, at - 40)..Math.Min(actual.Length, at + 60)])}");
                }
            }

            checkedRenders++;
        }

        Assert.Equal(20, checkedRenders);
    }

    private static string Escape(string s) => s.Replace("\n", "\\n").Replace("\t", "\\t");
}
