using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Tests.Training;

public class LearningRateSchedulerTests
{
    [Fact]
    public void WarmupRisesLinearlyFromZero()
    {
        var s = new LearningRateScheduler(1.0, LearningRateSchedule.Cosine, WarmupSteps: 10, TotalSteps: 110);
        Assert.Equal(0.0, s.At(0));
        Assert.Equal(0.5, s.At(5), 12);
        Assert.Equal(1.0, s.At(10), 12);
    }

    [Fact]
    public void CosineReachesHalfAtMidpointAndZeroAtEnd()
    {
        var s = new LearningRateScheduler(2.0, LearningRateSchedule.Cosine, 10, 110);
        Assert.Equal(1.0, s.At(60), 12);
        Assert.Equal(0.0, s.At(110), 12);
        Assert.Equal(2.0 * 0.5 * (1 + Math.Cos(Math.PI * 0.25)), s.At(35), 12);
    }

    [Fact]
    public void LinearDecaysToZeroAndConstantStays()
    {
        Assert.Equal(0.25, new LearningRateScheduler(1.0, LearningRateSchedule.Linear, 0, 100).At(75), 12);
        Assert.Equal(1.0, new LearningRateScheduler(1.0, LearningRateSchedule.Constant, 5, 100).At(99), 12);
    }
}
