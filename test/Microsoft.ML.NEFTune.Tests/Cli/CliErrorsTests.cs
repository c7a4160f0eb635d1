using Microsoft.ML.NEFTune.Cli;
using Microsoft.ML.NEFTune.Modeling;

namespace Microsoft.ML.NEFTune.Tests.Cli;

public class CliErrorsTests
{
    [Fact]
    public void UnexpectedExceptionIsARuntimeFailureOnOneLine()
    {
        var stderr = new StringWriter();

        int code = CliErrors.Run(() => throw new InvalidOperationException("boom\nsecond line"), stderr, verbose: false);

        Assert.Equal(1, code);
        var line = Assert.Single(stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("neftune: error: boom second line", line);
    }

    [Fact]
    public void InvalidInputFilesAreUsageErrors()
    {
        Assert.Equal(2, CliErrors.Run(() => throw new ModelFormatException("m.bin", "bad header"), new StringWriter(), verbose: false));
        Assert.Equal(2, CliErrors.Run(() => throw new FileNotFoundException("missing", "x"), new StringWriter(), verbose: false));
        Assert.Equal(2, CliErrors.Run(() => throw new CliUsageException("bad"), new StringWriter(), verbose: false));
    }

    [Fact]
    public void SuccessPassesTheExitCodeThrough() => Assert.Equal(0, CliErrors.Run(() => 0, new StringWriter(), verbose: true));
}
