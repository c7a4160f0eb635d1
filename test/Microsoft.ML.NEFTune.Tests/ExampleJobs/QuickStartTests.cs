using Microsoft.ML.NEFTune.Examples;

namespace Microsoft.ML.NEFTune.Tests.ExampleJobs;

public class QuickStartTests
{
    [Fact]
    public void QuickStartJobTrainsAndPrintsAnswersBeforeAndAfter()
    {
        using var dir = new TempDirectory();
        var output = new StringWriter();
        var settings = new QuickStartJob.Settings(Fixtures.LlamaTokenizer, Fixtures.AlpacaDemo, dir.Path, HiddenSize: 32, Layers: 1, Heads: 2, MaxSteps: 3, MaxLength: 96, MaxNewTokens: 4);
        var result = QuickStartJob.Run(settings, output);
        Assert.Equal(3, result.Steps);
        var text = output.ToString();
        Assert.Contains("[before]", text);
        Assert.Contains("[after]", text);
        Assert.True(File.Exists(Path.Combine(dir.Path, "tuned", "model.safetensors")));
    }
}
