using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Tests.Training;

public class OpenMpWaitPolicyTests
{
    [Fact]
    public void PreferPassiveSetsPassiveInTheNativeEnvironmentUnlessAlreadySet()
    {
        if (OperatingSystem.IsWindows()) return;
        var before = OpenMpWaitPolicy.Current();
        var result = OpenMpWaitPolicy.PreferPassive();
        Assert.Equal(before ?? "PASSIVE", result);
        Assert.Equal(result, OpenMpWaitPolicy.Current());
        Assert.Equal(result, OpenMpWaitPolicy.PreferPassive());   // idempotent: a set value is never overwritten
    }
}
