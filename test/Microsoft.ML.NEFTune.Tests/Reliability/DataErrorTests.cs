using System.Text;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Tests.Cli;
using Xunit.Abstractions;

namespace Microsoft.ML.NEFTune.Tests.Reliability;

/// <summary>
/// Bad training data through <c>neftune train</c>: each case is exit code 2 and a single error line naming the file and,
/// where there is one, the line, column and record; and the library throws <see cref="DataFormatException"/> with them.
/// </summary>
public class DataErrorTests(ITestOutputHelper output)
{
    private static readonly byte[] Latin1 = Encoding.Latin1.GetBytes("[{\"instruction\": \"Caf\u00e9?\", \"output\": \"Oui.\"}]");

    public static TheoryData<string, string, string[]> Cases => new()
    {
        { "malformed.json", "[\n{\"instruction\": \"a\", \"output\": \"b\"},\n{\"instruction\": \"c\" \"output\": \"d\"}\n]", new[] { "malformed.json:3:", "record 1", "malformed JSON" } },
        { "malformed.jsonl", "{\"instruction\": \"a\", \"output\": \"b\"}\n{\"instruction\": \"c\", \"output\": }\n", new[] { "malformed.jsonl:2:", "record 1", "malformed JSON" } },
        { "latin1.json", "", new[] { "latin1.json:1:", "not valid UTF-8", "0xE9" } },
        { "mistyped.json", "[{\"instruction\": \"a\", \"output\": \"b\"}, {\"instruction\": \"c\", \"output\": 42}]", new[] { "mistyped.json:1:", "record 1", "field 'output' must be a string, found number" } },
        { "missing.jsonl", "{\"instruction\": \"a\", \"output\": \"b\"}\n{\"instruction\": \"c\"}\n", new[] { "missing.jsonl:2:1", "record 1", "field 'output' is missing" } },
        { "not-object.jsonl", "{\"instruction\": \"a\", \"output\": \"b\"}\n[\"c\", \"d\"]\n", new[] { "not-object.jsonl:2:1", "record 1", "expected an object" } },
        { "surrogate.json", "[{\"instruction\": \"a\", \"output\": \"b\"}, {\"instruction\": \"\\ud800\", \"output\": \"d\"}]", new[] { "surrogate.json:1:", "record 1", "not valid UTF-16" } },
        { "no-usable.json", "[{\"instruction\": \"\", \"output\": \"a\"}, {\"instruction\": \" \", \"output\": \"b\"}]", new[] { "no-usable.json", "no usable records: 2 read, 2 skipped", "record 0 (line 1)" } },
        { "empty.json", "   \n", new[] { "empty.json:1:1", "the file is empty" } },
        { "undetectable.json", "[{\"question\": \"a\", \"answer\": \"b\"}]", new[] { "undetectable.json:1:", "record 0", "cannot detect the data format", "question, answer" } },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void BadDataIsOneLineWithExitCode2NamingFileLineAndRecord(string name, string content, string[] expected)
    {
        using var run = new TrainingRun();
        var path = run[name];
        if (name == "latin1.json") File.WriteAllBytes(path, Latin1);
        else File.WriteAllText(path, content, new UTF8Encoding(false));

        var result = CliRunner.Run(TrainingRun.Set(run.Args(run["out"]), "--data", path));
        output.WriteLine(result.Error);
        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("neftune: error: ", line);
        foreach (var text in expected) Assert.Contains(text, line);
        Assert.DoesNotContain("Exception", line);
        Assert.False(Directory.Exists(run["out"]), "nothing is written for unusable data");

        var e = Assert.Throws<DataFormatException>(() => DatasetReader.Read(path));
        Assert.Equal(path, e.File);
    }

    [Fact]
    public void OverlongRecordsAreTruncatedAndCountedOrDroppedAndCounted()
    {
        using var run = new TrainingRun();
        var longOutput = string.Join(" ", Enumerable.Repeat("and so on", 60));
        File.WriteAllText(run.DataPath,
            "[{\"instruction\": \"Add 1 and 2.\", \"output\": \"3.\"}, {\"instruction\": \"Count.\", \"output\": \"" + longOutput + "\"}," +
            " {\"instruction\": \"" + longOutput + "\", \"output\": \"Done.\"}]");

        var truncated = CliRunner.Run(TrainingRun.Set(run.Args(run["truncate"]), "--max-steps", "1"));
        output.WriteLine(truncated.Out);
        Assert.True(truncated.ExitCode == 0, truncated.Error);
        Assert.Contains("Training examples: 3 seen, 2 kept (1 truncated,", truncated.Out);
        Assert.Contains("1 dropped (PromptTooLong: 1)", truncated.Out);

        var dropped = CliRunner.Run(TrainingRun.Set(run.Args(run["drop"], "--drop-long"), "--max-steps", "1"));
        output.WriteLine(dropped.Out);
        Assert.True(dropped.ExitCode == 0, dropped.Error);
        Assert.Contains("Training examples: 3 seen, 1 kept (0 truncated, 0 response tokens cut), 2 dropped (TooLong: 2)", dropped.Out);

        File.WriteAllText(run.DataPath, "[{\"instruction\": \"Count.\", \"output\": \"" + longOutput + "\"}]");
        var none = CliRunner.Run(run.Args(run["none"], "--drop-long"));
        output.WriteLine(none.Out + none.Error);
        Assert.Equal(2, none.ExitCode);
        Assert.Contains("1 dropped (TooLong: 1)", none.Out);
        var line = Assert.Single(none.ErrorLines);
        Assert.Contains("short.json: no training example is left after tokenization", line);
    }
}
