using Microsoft.ML.NEFTune.Cli.Display;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Tests.Cli;

public class TrainingDisplayTests
{
    private static TrainingProgress Step(long step, double epoch) => new()
    {
        Step = step, TotalSteps = 8, Epoch = epoch, TrainLoss = 2.3456, LearningRate = 2e-4, GradNorm = 0.5, TokensPerSecond = 1234, Eta = TimeSpan.FromSeconds(83),
    };

    [Fact]
    public void LiveDisplayDrawsABarPerEpochWithLossLearningRateThroughputAndEta()
    {
        var screen = new StringWriter();
        var display = TrainingDisplay.Live(Terminal.Console(screen, width: 160), epochs: 2);

        display.Run(() =>
        {
            display.Report(Step(2, 0.5));
            display.Report(Step(4, 1.0));
            display.Report(new TrainingProgress { Step = 4, TotalSteps = 8, Epoch = 1.0, ValidationLoss = 2.1, TrainLossNoiseOff = 2.0 });
            display.Report(Step(6, 1.5));
            return 0;
        });

        var text = screen.ToString();
        Assert.Contains("epoch 1/2", text);
        Assert.Contains("epoch 2/2", text);
        Assert.Contains("step 6/8 · loss 2.3456 · lr 2.00e-04 · 1,234 tok/s · eta 00:01:23", text);
        Assert.Contains("eval  step      4/8 | epoch 1.00 | val loss 2.1000 | noise-off train loss 2.0000", text);
    }

    [Fact]
    public void PlainDisplayPrintsOneLinePerReport()
    {
        var output = new StringWriter();
        var display = TrainingDisplay.Create(output, quiet: false);

        display.Run(() => { display.Report(Step(1, 0.25)); display.Report(Step(2, 0.5)); return 0; });

        Assert.False(display.IsLive);
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("train step      2/8 | epoch 0.50 | loss 2.3456", lines[1]);
        Assert.Contains("eta 00:01:23", lines[1]);
    }

    [Fact]
    public void QuietDisplayPrintsNothing()
    {
        var output = new StringWriter();
        var display = TrainingDisplay.Create(output, quiet: true);

        display.Report(Step(1, 0.25));
        display.Note("a note");

        Assert.Equal("", output.ToString());
    }
}
