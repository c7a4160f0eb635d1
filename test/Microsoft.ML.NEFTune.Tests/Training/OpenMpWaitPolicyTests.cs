using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Tests.Training;

public class OpenMpWaitPolicyTests
{
    /// <summary>
    /// The test host starts with <c>OMP_WAIT_POLICY=PASSIVE</c> (test.runsettings), so this never calls setenv while the
    /// runner's threads run: it shows that a policy already in the native environment is reported and kept.
    /// </summary>
    [Fact]
    public void PreferPassiveKeepsThePolicyAlreadyInTheNativeEnvironment()
    {
        Assert.False(OperatingSystem.IsWindows(), "OpenMpWaitPolicy is for Linux and macOS");
        var before = OpenMpWaitPolicy.Current();
        Assert.True(before is not null, "OMP_WAIT_POLICY is not set in the test host; run the tests with test.runsettings (dotnet test does)");
        Assert.Equal(before, OpenMpWaitPolicy.PreferPassive());
        Assert.Equal(before, OpenMpWaitPolicy.Current());
    }
}
