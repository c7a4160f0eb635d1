using System.Runtime.InteropServices;

namespace Microsoft.ML.NEFTune.Training;

/// <summary>
/// Lets libtorch's OpenMP threads sleep between parallel regions instead of spinning. A training step of a small
/// model runs thousands of short parallel regions; with libgomp's default (spin, then sleep) a thread that shares its
/// core with anything else burns the time the other thread needed, and a step can take several times as long.
/// <c>OMP_WAIT_POLICY=PASSIVE</c> avoids that. libgomp reads the variable once, when libtorch is loaded, so this must
/// run before the first tensor is created; a value the user has set is kept. Linux and macOS only.
/// </summary>
public static class OpenMpWaitPolicy
{
    /// <summary>The variable libgomp reads.</summary>
    public const string Variable = "OMP_WAIT_POLICY";

    /// <summary>
    /// Sets <c>OMP_WAIT_POLICY=PASSIVE</c> in the native environment unless it is already set. Returns the policy
    /// in effect for libraries loaded from now on ("PASSIVE", or the user's value), or null where it cannot be set.
    /// </summary>
    public static string? PreferPassive()
    {
        if (OperatingSystem.IsWindows()) return null;
        try
        {
            if (Current() is string existing) return existing;
            return setenv(Variable, "PASSIVE", 0) == 0 ? Current() : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>The policy in the native environment (which .NET's own copy of the environment does not show), or null.</summary>
    public static string? Current()
    {
        if (OperatingSystem.IsWindows()) return Environment.GetEnvironmentVariable(Variable);
        var value = getenv(Variable);
        return value == IntPtr.Zero ? Environment.GetEnvironmentVariable(Variable) : Marshal.PtrToStringUTF8(value);
    }

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int setenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);

    [DllImport("libc", EntryPoint = "getenv")]
    private static extern IntPtr getenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name);
}
