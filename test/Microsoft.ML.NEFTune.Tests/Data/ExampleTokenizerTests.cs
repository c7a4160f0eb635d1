using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Modeling;

namespace Microsoft.ML.NEFTune.Tests.Data;

[Collection(DataTestCollection.Name)]
public class ExampleTokenizerTests
{
    private const int Ignore = ExampleTokenizer.LabelIgnoreIndex;
    private static readonly PromptTemplate Alpaca = PromptTemplate.Get("alpaca");

    private static ExampleTokenizer Chars(PromptTemplate? template = null, ExampleTokenizerOptions? options = null, bool addBos = true)
        => new(new CharTokenizer(addBos), template ?? Alpaca, options);

    /// <summary>The text training puts before the response (the generation prompt adds a newline to it).</summary>
    private static string TrainingPrompt(InstructionExample example) =>
        string.Concat(Alpaca.Render(example.WithoutFinalResponse()).Where(s => !s.IsTarget).Select(s => s.Text));

    private static InstructionExample Chat(params (ChatRole Role, string Content)[] turns)
        => InstructionExample.FromMessages(turns.Select(t => new ChatMessage(t.Role, t.Content)));

    /// <summary>The labelled stretches of an example, decoded (EOS shown as "|").</summary>
    private static List<string> TrainedSpans(TokenizedExample example)
    {
        var spans = new List<string>();
        var current = "";
        for (int t = 0; t <= example.Length; t++)
        {
            if (t < example.Length && example.Labels[t] != Ignore)
            {
                current += example.Labels[t] == 2 ? "|" : ((char)(example.Labels[t] - CharTokenizer.Offset)).ToString();
                continue;
            }
            if (current.Length > 0) spans.Add(current);
            current = "";
        }
        return spans;
    }

    [Fact]
    public void IgnoreIndexIsTheModels()
    {
        Assert.Equal(LlamaForCausalLM.IgnoreIndex, ExampleTokenizer.LabelIgnoreIndex);
    }

    [Fact]
    public void LabelsMaskExactlyThePromptAndTrainTheOutputAndEos()
    {
        var example = InstructionExample.FromInstruction("Say hi.", "", "Hi!");
        var prompt = TrainingPrompt(example);

        var (ids, labels) = Chars().Encode(example);

        Assert.Equal(new[] { 1 }.Concat(CharTokenizer.Ids(prompt + "Hi!")).Append(2), ids);
        Assert.Equal(Enumerable.Repeat(Ignore, 1 + prompt.Length).Concat(CharTokenizer.Ids("Hi!")).Append(2), labels);
    }

    [Fact]
    public void AnEmptyOutputIsTrainedOnEosAloneLikeTheAuthors()
    {
        var example = InstructionExample.WithEmptyResponse("Say nothing.");
        var prompt = TrainingPrompt(InstructionExample.FromInstruction("Say nothing."));

        var (ids, labels) = Chars().Encode(example);

        Assert.Equal(new[] { 1 }.Concat(CharTokenizer.Ids(prompt)).Append(2), ids);
        Assert.Equal(Enumerable.Repeat(Ignore, 1 + prompt.Length).Append(2), labels);
        var prompt64 = Chars().Tokenize(new[] { InstructionExample.FromInstruction("Say nothing.") });
        Assert.Empty(prompt64.Examples);                        // a prompt without any response is still not a training example
    }

    [Fact]
    public void MasksTheEncodedPromptLengthOfTheEncodedWholeLikeTheAuthors()
    {
        var tokenizer = new WordTokenizer();
        var example = InstructionExample.FromInstruction("Say hi.", "", "Hello world");
        var prompt = TrainingPrompt(example);   // ends "### Response:", which merges with "Hello"

        var (ids, labels) = new ExampleTokenizer(tokenizer, Alpaca).Encode(example);

        var whole = tokenizer.Encode(prompt + "Hello world");
        Assert.Equal(new[] { 1 }.Concat(whole).Append(2), ids);
        Assert.Equal(1 + tokenizer.Encode(prompt).Count, labels.TakeWhile(l => l == Ignore).Count());
        Assert.Equal(new[] { tokenizer.Encode("world")[0], 2 }, labels.Where(l => l != Ignore));
    }

    [Fact]
    public void NoBosWhenTheTokenizerAddsNone()
    {
        var example = InstructionExample.FromInstruction("Say hi.", "", "Hi!");

        var (ids, _) = Chars(addBos: false).Encode(example);

        Assert.Equal(CharTokenizer.Ids(TrainingPrompt(example) + "Hi!").Append(2), ids);
    }

    [Fact]
    public void EncodePromptIsBosAndThePromptText()
    {
        var example = InstructionExample.FromInstruction("Add.", "1 2", "3");

        Assert.Equal(new[] { 1 }.Concat(CharTokenizer.Ids(Alpaca.RenderPrompt(example))), Chars().EncodePrompt(example));
    }

    [Fact]
    public void MultiTurnTrainsEveryAssistantTurnAndMasksTheRest()
    {
        var example = Chat((ChatRole.System, "Sys"), (ChatRole.User, "Hi"), (ChatRole.Assistant, "Hello"), (ChatRole.User, "Bye"), (ChatRole.Assistant, "Ciao"));

        var encoded = Chars(PromptTemplate.Get("chatml")).Encode(example);

        Assert.Equal(new[] { "Hello<|im_end|>|", "Ciao<|im_end|>|" }, TrainedSpans(encoded));
        Assert.Equal(2, encoded.InputIds.Count(id => id == 2));
    }

    [Fact]
    public void Llama2ChatOpensLaterExchangesWithAnUntrainedBos()
    {
        var example = Chat((ChatRole.User, "Hi"), (ChatRole.Assistant, "Hello"), (ChatRole.User, "Bye"), (ChatRole.Assistant, "Ciao"));

        var encoded = Chars(PromptTemplate.Get("llama2-chat")).Encode(example);

        Assert.Equal(new[] { " Hello |", " Ciao |" }, TrainedSpans(encoded));
        int secondBos = Array.IndexOf(encoded.InputIds, 1, 1);
        Assert.Equal(2, encoded.InputIds[secondBos - 1]);
        Assert.Equal(Ignore, encoded.Labels[secondBos]);
    }

    [Fact]
    public void TrainOnPromptLabelsEveryToken()
    {
        var encoded = Chars(options: new ExampleTokenizerOptions { TrainOnPrompt = true }).Encode(InstructionExample.FromInstruction("Say hi.", "", "Hi!"));

        Assert.Equal(encoded.InputIds, encoded.Labels);
    }

    [Fact]
    public void TruncationCutsTheEndAndCountsTheLostResponseTokens()
    {
        var example = InstructionExample.FromInstruction("Say hi.", "", "Hello there!");
        int promptTokens = 1 + TrainingPrompt(example).Length;
        var tokenizer = Chars(options: new ExampleTokenizerOptions { MaxLength = promptTokens + 5 });

        var result = tokenizer.Tokenize(new[] { example });

        var row = Assert.Single(result.Examples);
        Assert.Equal(promptTokens + 5, row.Length);
        Assert.Equal(new[] { "Hello" }, TrainedSpans(row));
        Assert.Equal((1, 1, 1, 0), (result.Report.Total, result.Report.Kept, result.Report.Truncated, result.Report.Dropped));
        Assert.Equal(" there!".Length + 1, result.Report.TruncatedTargetTokens);
    }

    [Fact]
    public void ExamplesWithoutAResponseTokenLeftAreDroppedAndCounted()
    {
        var examples = new[]
        {
            InstructionExample.FromInstruction("Say hi.", "", "Hi!"),
            InstructionExample.FromInstruction(new string('x', 600), "", "Hi!"),
            InstructionExample.FromInstruction("No answer."),
        };

        var report = Chars().Tokenize(examples).Report;

        Assert.Equal((3, 1, 2), (report.Total, report.Kept, report.Dropped));
        Assert.Equal(new[] { (1, DropReason.PromptTooLong), (2, DropReason.NoResponse) }, report.DroppedExamples.Select(d => (d.Index, d.Reason)));
    }

    [Fact]
    public void DropModeDropsLongExamples()
    {
        var example = InstructionExample.FromInstruction("Say hi.", "", "Hello there!");
        var tokenizer = Chars(options: new ExampleTokenizerOptions { MaxLength = 60, Truncation = TruncationMode.Drop });

        var result = tokenizer.Tokenize(new[] { example });

        Assert.Empty(result.Examples);
        Assert.Equal(DropReason.TooLong, Assert.Single(result.Report.DroppedExamples).Reason);
    }

    [Fact]
    public void AlpacaDemoKeepsOrAccountsForEveryExample()
    {
        var examples = DatasetReader.Read(Fixtures.AlpacaDemo).Examples;
        var tokenizer = Chars(options: new ExampleTokenizerOptions { MaxLength = 512 });

        var result = tokenizer.Tokenize(examples);

        int tooLong = examples.Count(e => 2 + TrainingPrompt(e).Length + e.Output!.Length > 512);
        int promptTooLong = examples.Count(e => 1 + TrainingPrompt(e).Length >= 512);
        Assert.Equal(999, result.Report.Kept + result.Report.Dropped);
        Assert.Equal(tooLong - promptTooLong, result.Report.Truncated);
        Assert.Equal(promptTooLong, result.Report.Dropped);
        Assert.All(result.Examples, e => Assert.True(e.Length <= 512 && e.TokenCount > 0));
    }

    [Fact]
    public void DocumentsAreChunkedWithEveryTokenTrained()
    {
        var tokenizer = Chars(options: new ExampleTokenizerOptions { MaxLength = 4 });

        var result = tokenizer.TokenizeDocuments(new[] { new PlainText("abcdefghij"), new PlainText("abcdefg"), new PlainText("") });

        Assert.Equal(new[] { 4, 4, 4, 4, 4 }, result.Examples.Select(e => e.Length));
        Assert.All(result.Examples, e => Assert.Equal(e.InputIds, e.Labels));
        Assert.Equal(new[] { 1 }.Concat(CharTokenizer.Ids("abcdefghij")).Append(2), result.Examples.Take(3).SelectMany(e => e.InputIds));
        Assert.Equal((3, 2, 1, 1, 1L), (result.Report.Total, result.Report.Kept, result.Report.Dropped, result.Report.Truncated, result.Report.TruncatedTargetTokens));
    }

    [Fact]
    public void TokenizerWithoutEosIsRejected()
    {
        var e = Assert.Throws<ArgumentException>(() => new ExampleTokenizer(new NoEosTokenizer(), Alpaca));

        Assert.Equal("tokenizer", e.ParamName);
    }

    private sealed class NoEosTokenizer : Microsoft.ML.NEFTune.IO.Tokenizers.TextTokenizer
    {
        public override int VocabularySize => 10;
        public override int? BosId => 1;
        public override int? EosId => null;
        public override IReadOnlyList<int> Encode(string text) => Array.Empty<int>();
        public override string Decode(IEnumerable<int> ids) => "";
        public override string? IdToPiece(int id) => null;
    }
}
