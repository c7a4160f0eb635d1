using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Data.Templates;
using Microsoft.ML.NEFTune.IO.Tokenizers;

namespace Microsoft.ML.NEFTune.Tests.Tokenizers;

/// <summary>
/// Training with <c>--template model</c> encodes a conversation exactly as transformers'
/// <c>apply_chat_template(tokenize=True)</c>: the rendered text (which writes BOS itself) encoded without added special
/// tokens, the special-token strings in it matched. The expected ids are Hugging Face's tokenizers on the render of the
/// real template; the tokenizer.model case shows the SentencePiece tokenizer now serves such templates too.
/// </summary>
public sealed class ModelTemplateTokenizationTests
{
    [Theory]
    [InlineData("llama2", false)]
    [InlineData("llama2", true)]
    [InlineData("mistral", false)]
    [InlineData("llama3_1", false)]
    [InlineData("qwen2_5", false)]
    [InlineData("gemma2", false)]
    [InlineData("deepseek_v3", false)]
    public void ConversationIdsAreApplyChatTemplatesWithoutADoubledBos(string name, bool fromTokenizerModel)
    {
        var chat = TokenizerJsonReference.Load(name).Chats.Single();
        using var dir = new TempDirectory();
        TokenizerJsonReference.Materialize(name, dir.Path);
        if (fromTokenizerModel)
        {
            File.Delete(dir["tokenizer.json"]);
            File.Copy(LlamaReferenceCase.ModelPath, dir["tokenizer.model"]);
        }

        var config = JsonNode.Parse(File.ReadAllText(dir["tokenizer_config.json"]))!.AsObject();
        var templates = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "ChatTemplates", "templates.json")))!;
        config["chat_template"] = (string)templates[chat.Template]!["chat_template"]!;
        File.WriteAllText(dir["tokenizer_config.json"], config.ToJsonString());
        var tokenizer = TextTokenizer.Load(dir.Path);
        var template = ModelPromptTemplate.FromTokenizer(tokenizer) ?? throw new InvalidOperationException("no chat template");
        var example = InstructionExample.FromMessages(chat.Messages.Select(m => new ChatMessage(Enum.Parse<ChatRole>(m.Role, ignoreCase: true), m.Content)));

        var ids = new ExampleTokenizer(tokenizer, template, new ExampleTokenizerOptions { MaxLength = 4096 }).Encode(example).InputIds;

        Assert.Equal(fromTokenizerModel, tokenizer is SentencePieceTokenizer);
        Assert.Equal(chat.Ids, ids);
        if (tokenizer.BosId is int bos && ids.Length > 1) Assert.NotEqual(bos, ids[1]);
    }
}
