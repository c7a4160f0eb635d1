namespace Microsoft.ML.NEFTune.Training;

/// <summary>
/// The process-wide native settings that make CPU training fast on a shared machine. The library never changes them
/// by itself: an application (the <c>neftune</c> CLI, the examples, the bench) calls <see cref="Apply"/> once, first
/// thing in <c>Main</c>, before any tensor is created.
/// </summary>
public static class ProcessTuning
{
    /// <summary>
    /// Sets <c>OMP_WAIT_POLICY=PASSIVE</c> unless the user set a policy (<see cref="OpenMpWaitPolicy.PreferPassive"/>;
    /// it only takes effect when called before libtorch loads) and asks that freed native memory stay in the heap from the
    /// first training step on (<see cref="NativeMemoryTuning.KeepFreedMemory"/>). Later calls do nothing more.
    /// </summary>
    /// <returns>The OpenMP wait policy in effect (null where it cannot be set) and whether the memory tuning will apply.</returns>
    public static (string? OpenMpWaitPolicy, bool KeepsFreedMemory) Apply()
    {
        var policy = OpenMpWaitPolicy.PreferPassive();
        return (policy, NativeMemoryTuning.KeepFreedMemory());
    }
}
