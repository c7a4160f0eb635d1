using Microsoft.Extensions.AI;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Data.Templates;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.IO.Tokenizers;
using Microsoft.ML.NEFTune.Modeling;
using Microsoft.ML.NEFTune.Tests.Generation;
using Microsoft.ML.NEFTune.Tests.Templates;
using Microsoft.ML.NEFTune.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.MLNet;

/// <summary>
/// A tiny model whose folder carries Qwen2.5's real chat template in <c>chat_template.jinja</c> (special tokens in
/// <c>tokenizer_config.json</c>, an extra EOS id in <c>generation_config.json</c>), fitted once with the ML.NET
/// estimator's default template.
/// </summary>
public sealed class TemplatedModelFit : IDisposable
{
    public const string Instruction = "Summarize the sentence.", Input = "The quick brown fox jumps over the lazy dog.", Output = "A fox jumps over a dog.";
    private readonly TempDirectory temp = new();

    public TemplatedModelFit()
    {
        ModelDirectory = temp["model"];
        using (var model = new LlamaForCausalLM(TemplatedChatModel.Config))
        {
            model.InitializeWeights(7);
            HuggingFaceCheckpoint.Save(model, ModelDirectory);
        }
        TemplatedChatModel.WriteTokenizerFolder(ModelDirectory, templateInJinjaFile: true);
        Rows = new List<InstructionRow>
        {
            new() { Instruction = Instruction, Input = Input, Output = Output },
            new() { Instruction = "Hello, how are you?", Input = "", Output = "Fine, thanks." },
        };
        Estimator = Context.Neftune().InstructionTuning(new NeftuneInstructionTuningOptions
        {
            ModelPath = ModelDirectory, InputColumnName = "Input", ResponseColumnName = "Output", MaxLength = 256,
            BatchSize = 2, MaxSteps = 1, LearningRate = 1e-3, NoiseOffTrainSampleSize = 0, MaxNewTokens = 6,
        });
        Data = Context.Data.LoadFromEnumerable(Rows);
        Tuned = Estimator.Fit(Data);
    }

    public MLContext Context { get; } = new(seed: 1);
    public string ModelDirectory { get; }
    public List<InstructionRow> Rows { get; }
    public IDataView Data { get; }
    public NeftuneInstructionTuningEstimator Estimator { get; }
    public NeftuneInstructionTuningTransformer Tuned { get; }
    public TextTokenizer Tokenizer => TextTokenizer.Load(ModelDirectory);
    public string this[string name] => temp[name];

    public void Dispose()
    {
        Tuned.Dispose();
        temp.Dispose();
    }
}

/// <summary>
/// The ML.NET estimator and transformer with the model's own chat template: training renders a row as the CLI does
/// (a user turn, an assistant turn, loss on the assistant turn), prediction renders the prompt as
/// <c>apply_chat_template(add_generation_prompt=True)</c> and stops at the template's end of turn, and a saved pipeline
/// keeps the template. Expected texts are <c>@huggingface/jinja</c>'s renders of the real template.
/// </summary>
public sealed class ModelTemplateFitTests : IClassFixture<TemplatedModelFit>
{
    private readonly TemplatedModelFit f;

    public ModelTemplateFitTests(TemplatedModelFit fixture) => f = fixture;

    private static string Reference(string conversation, bool addGenerationPrompt) =>
        ChatTemplateFixtures.Renders("qwen2.5").Single(r => r.Conversation == conversation && r.AddGenerationPrompt == addGenerationPrompt).Text!;

    [Fact]
    public void TheDefaultTemplateIsTheModelsOwnAsInTheLibrarysSettings()
    {
        Assert.Equal(new TrainingOptions().Template, new NeftuneInstructionTuningOptions().PromptTemplate);
        Assert.Equal(ModelPromptTemplate.TemplateName, f.Tuned.PromptTemplate);
    }

    [Fact]
    public void ARowIsAUserTurnAndAnAssistantTurnWithTheLossOnTheAssistantTurnOnly()
    {
        var tokenizer = f.Tokenizer;
        string full = Reference("instruction-input", addGenerationPrompt: false);
        string prompt = Reference("instruction-input-prompt", addGenerationPrompt: true);
        Assert.StartsWith(prompt, full);
        string answer = full[prompt.Length..].TrimEnd('\n');   // the response and <|im_end|>; the newline after it belongs to the next turn
        Assert.Equal(TemplatedModelFit.Output + "<|im_end|>", answer);

        var example = f.Estimator.Prepare(f.Context.Data.LoadFromEnumerable(f.Rows.Take(1)), TemplatedChatModel.Config).Train.Single();

        Assert.Equal(tokenizer.Encode(full), example.InputIds);
        var expectedLabels = tokenizer.Encode(prompt).Select(_ => ExampleTokenizer.LabelIgnoreIndex)
            .Concat(tokenizer.Encode(answer))
            .Concat(tokenizer.Encode(full[(prompt.Length + answer.Length)..]).Select(_ => ExampleTokenizer.LabelIgnoreIndex));
        Assert.Equal(expectedLabels, example.Labels);
    }

    [Theory]
    [InlineData(TemplatedModelFit.Instruction, TemplatedModelFit.Input, "instruction-input-prompt")]
    [InlineData("Hello, how are you?", "", "single-user")]
    public void PredictionPromptsAreTheTemplatesRenderWithTheGenerationPrompt(string instruction, string input, string conversation)
    {
        string reference = Reference(conversation, addGenerationPrompt: true);

        Assert.Equal(reference, f.Tuned.RenderPrompt(instruction, input));
        Assert.Equal(f.Tokenizer.Encode(reference).Select(i => (long)i), f.Tuned.EncodePrompt(instruction, input));   // no BOS added
    }

    [Fact]
    public void GenerationStopsAtTheTemplatesEndOfTurnAndTheGenerationConfigsEos()
    {
        Assert.Equal(new[] { TemplatedChatModel.EndOfText, TemplatedChatModel.ImEnd, TemplatedChatModel.ExtraEos }, f.Tuned.Decoding.EosTokenIds!.Order());
        Assert.Null(f.Tuned.GenerationOptions.EosTokenIds);   // the settings themselves stay as given
    }

    [Fact]
    public async Task ASavedPipelineKeepsTheChatTemplateAndGeneratesTheSame()
    {
        string path = f["templated.zip"];
        NeftuneModel.Save(f.Context, f.Tuned, f.Data.Schema, path);
        using var loaded = (NeftuneInstructionTuningTransformer)NeftuneModel.Load(f.Context, path, out _);

        Assert.Equal(ModelPromptTemplate.TemplateName, loaded.PromptTemplate);
        Assert.Equal(f.Tuned.Decoding.EosTokenIds!.Order(), loaded.Decoding.EosTokenIds!.Order());
        foreach (var row in f.Rows)
        {
            Assert.Equal(f.Tuned.EncodePrompt(row.Instruction, row.Input), loaded.EncodePrompt(row.Instruction, row.Input));
            Assert.Equal(f.Tuned.Generate(row.Instruction, row.Input), loaded.Generate(row.Instruction, row.Input));
        }

        using var chat = loaded.AsChatClient();
        using var original = f.Tuned.AsChatClient();
        var messages = new List<Microsoft.Extensions.AI.ChatMessage> { new(Microsoft.Extensions.AI.ChatRole.User, "Hello, how are you?") };
        Assert.IsType<ModelPromptTemplate>(chat.Template);
        Assert.Equal(original.Prepare(messages, null).Prompt, chat.Prepare(messages, null).Prompt);
        Assert.Equal((await original.GetResponseAsync(messages)).Text, (await chat.GetResponseAsync(messages)).Text);
    }

    [Fact]
    public void ASavedModelWhoseChatTemplateIsMissingIsRefusedByName()
    {
        string folder = f["without-template"];
        f.Tuned.SaveModel(folder);
        File.Delete(Path.Combine(folder, ChatTemplate.JinjaFileName));

        var error = Assert.Throws<InvalidDataException>(() => NeftuneModel.LoadTransformer(f.Context, folder));

        Assert.Contains("the model's own chat template", error.Message);
        Assert.Contains(ChatTemplate.JinjaFileName, error.Message);
    }

    [Fact]
    public async Task AReloadedChatClientStopsAtTheGenerationConfigsEos()
    {
        // A model that writes <|extra_eos|>, an EOS only generation_config.json names, at every step.
        string folder = f["extra-eos"];
        using (var model = TemplatedChatModel.AlwaysWriting(TemplatedChatModel.ExtraEos))
            HuggingFaceCheckpoint.Save(model, folder);
        TemplatedChatModel.WriteTokenizerFolder(folder);
        string path = f["extra-eos.zip"];
        using (var transformer = NeftuneModel.LoadTransformer(f.Context, folder))
            NeftuneModel.Save(f.Context, transformer, f.Data.Schema, path);
        using var loaded = (NeftuneInstructionTuningTransformer)NeftuneModel.Load(f.Context, path, out _);

        using var chat = loaded.AsChatClient();
        var response = await chat.GetResponseAsync("Hello, how are you?", new ChatOptions { MaxOutputTokens = 5 });

        Assert.Equal(ModelPromptTemplate.TemplateName, loaded.PromptTemplate);
        Assert.Equal(0, response.Usage!.OutputTokenCount);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
    }
}
