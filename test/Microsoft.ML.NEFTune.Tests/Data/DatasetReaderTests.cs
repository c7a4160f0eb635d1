using System.Text;
using Microsoft.ML.NEFTune.Data;

namespace Microsoft.ML.NEFTune.Tests.Data;

[Collection(DataTestCollection.Name)]
public class DatasetReaderTests
{
    [Fact]
    public void ReadsAll999AlpacaDemoRecordsWith412Inputs()
    {
        var data = DatasetReader.Read(Fixtures.AlpacaDemo);

        Assert.Equal(DataFormat.Alpaca, data.Format);
        Assert.Equal(999, data.RecordCount);
        Assert.Equal(999, data.Examples.Count);
        Assert.Empty(data.Skipped);
        Assert.Equal(412, data.Examples.Count(e => e.Input!.Length > 0));
        Assert.Equal("Describe a process of making crepes.", data.Examples[0].Instruction);
        Assert.StartsWith("Making crepes is an easy and delicious process!", data.Examples[0].Output);
    }

    [Fact]
    public void ReadsC4JsonLinesAndWikiTextAsDocuments()
    {
        var c4 = DatasetReader.Read(Fixtures.Path("data", "c4_demo.jsonl"));
        var wiki = DatasetReader.Read(Fixtures.Path("data", "wiki_demo.txt"));

        Assert.Equal((DataFormat.Text, 300), (c4.Format, c4.Documents.Count));
        Assert.Equal((DataFormat.Text, 30), (wiki.Format, wiki.Documents.Count));
        Assert.StartsWith("Anarchism is a political philosophy", wiki.Documents[0].Text);
    }

    [Theory]
    [InlineData("a.json", "[{\"instruction\": \"Add.\", \"input\": \"1 2\", \"output\": \"3\"}]", DataFormat.Alpaca)]
    [InlineData("d.jsonl", "{\"instruction\": \"Add.\", \"context\": \"1 2\", \"response\": \"3\", \"category\": \"math\"}\n", DataFormat.Dolly)]
    [InlineData("s.json", "[{\"conversations\": [{\"from\": \"human\", \"value\": \"Add 1 2.\"}, {\"from\": \"gpt\", \"value\": \"3\"}]}]", DataFormat.ShareGPT)]
    [InlineData("m.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"Add 1 2.\"}, {\"role\": \"assistant\", \"content\": \"3\"}]}", DataFormat.Messages)]
    [InlineData("t.jsonl", "{\"text\": \"One plus two is three.\"}\n\n{\"text\": \"Two plus two is four.\"}\n", DataFormat.Text)]
    [InlineData("t.txt", "One plus two is three.\r\nTwo plus two is four.\n", DataFormat.Text)]
    public void DetectsTheFormatFromTheFields(string name, string content, DataFormat expected)
    {
        using var dir = new TempDirectory();
        var data = DatasetReader.Read(DataFiles.Write(dir, name, content));

        Assert.Equal(expected, data.Format);
        if (expected == DataFormat.Text)
        {
            Assert.Equal(new[] { "One plus two is three.", "Two plus two is four." }, data.Documents.Select(d => d.Text));
            return;
        }
        var example = Assert.Single(data.Examples);
        var messages = example.ToMessages();
        Assert.Equal(new[] { ChatRole.User, ChatRole.Assistant }, messages.Select(m => m.Role));
        Assert.Equal("3", messages[1].Content);
        if (!example.IsConversation) Assert.Equal(("Add.", "1 2"), (example.Instruction, example.Input));
    }

    [Fact]
    public void ShareGptRolesAndTopLevelSystemBecomeChatMessages()
    {
        using var dir = new TempDirectory();
        var path = DataFiles.Write(dir, "s.json", """
            [{"system": "Be brief.", "conversations": [
              {"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"},
              {"from": "user", "value": "Add 1 2."}, {"from": "assistant", "value": "3"}]}]
            """);

        var messages = DatasetReader.Read(path).Examples.Single().Messages!;

        Assert.Equal(new[] { ChatRole.System, ChatRole.User, ChatRole.Assistant, ChatRole.User, ChatRole.Assistant }, messages.Select(m => m.Role));
        Assert.Equal(new[] { "Be brief.", "Hi", "Hello", "Add 1 2.", "3" }, messages.Select(m => m.Content));
    }

    [Fact]
    public void FieldMappingRenamesFields()
    {
        using var dir = new TempDirectory();
        var path = DataFiles.Write(dir, "p.jsonl", "{\"prompt\": \"Add 1 2.\", \"completion\": \"3\"}\n");

        var data = DatasetReader.Read(path, mapping: new FieldMapping { Instruction = "prompt", Output = "completion" });

        Assert.Equal(DataFormat.Alpaca, data.Format);
        Assert.Equal(("Add 1 2.", "", "3"), (data.Examples[0].Instruction, data.Examples[0].Input, data.Examples[0].Output));
    }

    [Fact]
    public void MalformedJsonReportsLineAndColumn()
    {
        using var dir = new TempDirectory();
        var path = DataFiles.Write(dir, "bad.json", "[\n  {\"instruction\": \"a\", \"output\": \"b\"},\n  {\"instruction\": \"c\" \"output\": \"d\"}\n]");

        var e = Assert.Throws<DataFormatException>(() => DatasetReader.Read(path));

        Assert.Equal((3, 23), (e.Line, e.Column));   // the unexpected '"output"'
        Assert.Equal(1, e.RecordIndex);
        Assert.Contains("malformed JSON", e.Message);
        Assert.StartsWith(path + ":3:23:", e.Message);
    }

    [Fact]
    public void MalformedJsonLineReportsItsLine()
    {
        using var dir = new TempDirectory();
        var path = DataFiles.Write(dir, "bad.jsonl", "{\"text\": \"a\"}\n{\"text\": \"b\"}\n{\"text\": \"c}\n");

        var e = Assert.Throws<DataFormatException>(() => DatasetReader.Read(path));

        Assert.Equal(3, e.Line);
        Assert.Equal(2, e.RecordIndex);
    }

    [Theory]
    [InlineData("[\n{\"text\": \"a\"},\n{\"text\": \"b\"}", 3)]
    [InlineData("[{\"text\": \"a\"}]\n]", 2)]
    [InlineData("[{\"text\": \"a\"},\n]", 2)]
    [InlineData("\uFEFF[{\"text\": \"a\"} // note\n]", 1)]
    public void TruncatedOrTrailingJsonIsMalformed(string content, int line)
    {
        using var dir = new TempDirectory();
        var path = DataFiles.Write(dir, "bad.json", content);

        var e = Assert.Throws<DataFormatException>(() => DatasetReader.Read(path));

        Assert.Equal(line, e.Line);
        Assert.Contains("malformed JSON", e.Message);
    }

    [Fact]
    public void NonUtf8BytesAreReportedWithTheirPosition()
    {
        using var dir = new TempDirectory();
        var bytes = Encoding.UTF8.GetBytes("{\"text\": \"ok\"}\n{\"text\": \"caf\u00e9\"}\n").ToList();
        int at = bytes.IndexOf(0xC3);
        bytes.RemoveAt(at + 1);   // Latin-1 é: a lone lead byte
        bytes[at] = 0xE9;
        var path = DataFiles.WriteBytes(dir, "latin1.jsonl", bytes.ToArray());

        var e = Assert.Throws<DataFormatException>(() => DatasetReader.Read(path));

        Assert.Contains("not valid UTF-8", e.Message);
        Assert.Contains("0xE9", e.Message);
        Assert.Equal((2, 14), (e.Line, e.Column));
    }

    [Fact]
    public void MissingFieldNamesTheFieldAndRecord()
    {
        using var dir = new TempDirectory();
        var path = DataFiles.Write(dir, "a.json", """
            [{"instruction": "a", "input": "", "output": "b"},
             {"instruction": "c", "input": ""}]
            """);

        var e = Assert.Throws<DataFormatException>(() => DatasetReader.Read(path));

        Assert.Equal(("output", 1, 2), (e.Field, e.RecordIndex, e.Line));
        Assert.Contains("record 1: field 'output' is missing", e.Message);
    }

    [Fact]
    public void MistypedFieldNamesTheFieldAndType()
    {
        using var dir = new TempDirectory();
        var path = DataFiles.Write(dir, "a.jsonl", "{\"instruction\": \"a\", \"output\": 42}\n");

        var e = Assert.Throws<DataFormatException>(() => DatasetReader.Read(path));

        Assert.Equal(("output", 0), (e.Field, e.RecordIndex));
        Assert.Contains("must be a string, found number", e.Message);
    }

    [Fact]
    public void UnknownShareGptRoleNamesTheTurn()
    {
        using var dir = new TempDirectory();
        var path = DataFiles.Write(dir, "s.jsonl", "{\"conversations\": [{\"from\": \"human\", \"value\": \"Hi\"}, {\"from\": \"bot\", \"value\": \"Hello\"}]}\n");

        var e = Assert.Throws<DataFormatException>(() => DatasetReader.Read(path));

        Assert.Equal("conversations[1].from", e.Field);
        Assert.Contains("'bot'", e.Message);
    }

    [Fact]
    public void EmptyOutputsAreKeptForTrainingOnEosAndEmptyInstructionsAreSkippedAndCounted()
    {
        using var dir = new TempDirectory();
        var path = DataFiles.Write(dir, "a.jsonl", string.Join('\n',
            "{\"instruction\": \"a\", \"output\": \"b\"}",
            "{\"instruction\": \"c\", \"output\": \"\"}",
            "{\"instruction\": \"\", \"output\": \"d\"}",
            "{\"instruction\": \"e\", \"output\": \"f\"}"));

        var data = DatasetReader.Read(path);

        Assert.Equal(new[] { "b", "", "f" }, data.Examples.Select(e => e.Output));
        Assert.True(data.Examples[1].HasResponse, "an empty output is a response to train (on EOS alone), as in the NEFTune code");
        Assert.Equal(new[] { (2, 3) }, data.Skipped.Select(s => (s.RecordIndex, s.Line)));
        Assert.Contains("empty instruction", data.Skipped[0].Reason);
    }

    [Fact]
    public void UnusableRecordsThrowWhenNotSkipped()
    {
        using var dir = new TempDirectory();
        var path = DataFiles.Write(dir, "a.jsonl", "{\"instruction\": \"a\", \"output\": \"b\"}\n{\"instruction\": \" \", \"output\": \"c\"}\n");

        var e = Assert.Throws<DataFormatException>(() => DatasetReader.Read(path, skipUnusableRecords: false));

        Assert.Equal((1, 2), (e.RecordIndex, e.Line));
        Assert.Contains("empty instruction", e.Message);
    }

    [Fact]
    public void ConversationsOutOfOrderOrWithoutResponseAreSkipped()
    {
        using var dir = new TempDirectory();
        var path = DataFiles.Write(dir, "m.jsonl", string.Join('\n',
            "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello\"}]}",
            "{\"messages\": [{\"role\": \"assistant\", \"content\": \"Hello\"}]}",
            "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello\"}, {\"role\": \"user\", \"content\": \"Bye\"}]}",
            "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"\"}]}"));

        var data = DatasetReader.Read(path);

        Assert.Single(data.Examples);
        Assert.Equal(new[] { 1, 2, 3 }, data.Skipped.Select(s => s.RecordIndex));
    }

    [Fact]
    public void FileWithoutUsableRecordsIsAnError()
    {
        using var dir = new TempDirectory();
        var path = DataFiles.Write(dir, "a.json", "[{\"instruction\": \"\", \"output\": \"a\"}]");

        var e = Assert.Throws<DataFormatException>(() => DatasetReader.Read(path));

        Assert.Contains("no usable records", e.Message);
        Assert.Contains("empty instruction", e.Message);
    }

    [Theory]
    [InlineData("empty.json", "  \n")]
    [InlineData("empty-array.json", "[]")]
    [InlineData("blank.txt", "\n\n")]
    public void EmptyFilesAreErrors(string name, string content)
    {
        using var dir = new TempDirectory();
        Assert.Throws<DataFormatException>(() => DatasetReader.Read(DataFiles.Write(dir, name, content)));
    }

    [Fact]
    public void UndetectableFormatListsTheFieldsFound()
    {
        var path = Fixtures.Path("data", "self_instruct_seed_tasks.jsonl");

        var e = Assert.Throws<DataFormatException>(() => DatasetReader.Read(path));

        Assert.Equal((0, 1), (e.RecordIndex, e.Line));
        Assert.Contains("cannot detect", e.Message);
        Assert.Contains("instances", e.Message);
    }

    [Fact]
    public void NonObjectRecordIsReportedNotCrashed()
    {
        using var dir = new TempDirectory();
        var path = DataFiles.Write(dir, "a.json", "[{\"instruction\": \"a\", \"output\": \"b\"}, \"oops\"]");

        var e = Assert.Throws<DataFormatException>(() => DatasetReader.Read(path, DataFormat.Alpaca));

        Assert.Equal(1, e.RecordIndex);
        Assert.Contains("expected an object", e.Message);
    }
}
