using System.Text.Json;
using Microsoft.ML.NEFTune.IO.Tokenizers;

namespace Microsoft.ML.NEFTune.Tests.Cli;

public class TokenizeCommandTests
{
    [Fact]
    public void JsonArrayOfTextsGivesTheTokenizersIds()
    {
        string[] texts = { "Hello world", "", "  two spaces\nand a newline", "Ünïcode 你好 🙂", "### Instruction:" };
        var tokenizer = TextTokenizer.Load(Fixtures.LlamaTokenizer);

        var result = CliRunner.RunWithInput(JsonSerializer.Serialize(texts), "tokenize", "--tokenizer", Fixtures.LlamaTokenizer, "--json");

        Assert.Equal(0, result.ExitCode);
        var ids = JsonSerializer.Deserialize<int[][]>(result.Out)!;
        Assert.Equal(texts.Select(t => tokenizer.Encode(t).ToArray()).ToArray(), ids);
    }

    [Fact]
    public void PlainModeEncodesEachLine()
    {
        var tokenizer = TextTokenizer.Load(Fixtures.LlamaTokenizer);

        var result = CliRunner.RunWithInput("Hello world\nsecond line\n", "tokenize", "--tokenizer", Fixtures.LlamaTokenizer);

        Assert.Equal(0, result.ExitCode);
        var expected = new[] { "Hello world", "second line" }.Select(t => string.Join(' ', tokenizer.Encode(t)));
        Assert.Equal(expected, result.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')));
    }

    [Fact]
    public void InvalidJsonIsAUsageErrorWithLineAndColumn()
    {
        var result = CliRunner.RunWithInput("[\n  \"a\",\n  oops]", "tokenize", "--tokenizer", Fixtures.LlamaTokenizer, "--json");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("line 3, column 3", Assert.Single(result.ErrorLines));
    }

    [Theory]
    [InlineData("{\"text\": \"a\"}")]
    [InlineData("[\"a\", 3]")]
    public void JsonThatIsNotAnArrayOfStringsIsAUsageError(string input)
    {
        var result = CliRunner.RunWithInput(input, "tokenize", "--tokenizer", Fixtures.LlamaTokenizer, "--json");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("array of strings", Assert.Single(result.ErrorLines));
    }

    [Fact]
    public void MissingTokenizerIsAUsageErrorNamingThePath()
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-such-tokenizer-" + Guid.NewGuid().ToString("N") + ".model");

        var result = CliRunner.RunWithInput("[]", "tokenize", "--tokenizer", missing, "--json");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(missing, Assert.Single(result.ErrorLines));
    }
}
