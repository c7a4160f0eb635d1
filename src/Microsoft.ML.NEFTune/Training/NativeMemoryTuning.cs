using System.Runtime.InteropServices;

namespace Microsoft.ML.NEFTune.Training;

/// <summary>
/// Keeps memory that libtorch frees inside the process for reuse between training steps. libtorch's CPU allocator takes
/// every tensor from glibc's malloc, which serves blocks over 32 MB with fresh <c>mmap</c>s and unmaps them on free, so
/// each training step faults in its large activations (logits, their gradients) page by page again. Where page faults
/// are costly (measured on a 2-core VM: 1.6 s to first-touch 261 MB, against 0.12 s to rewrite it) this dominates a step.
/// Serving large blocks from the heap and never trimming it lets later steps reuse the same pages.
/// </summary>
/// <remarks>
/// An application opts in with <see cref="KeepFreedMemory"/> (through <see cref="ProcessTuning.Apply"/>); the setting takes
/// effect when the first training loop starts (<see cref="EnterTrainingLoop"/>), after the model is loaded, quantized and
/// converted: those one-time allocations keep glibc's defaults, and what they freed is returned to the system first
/// (<c>malloc_trim</c>). Applied from the start, a TinyLlama-1.1B QLoRA run kept its loading and quantization heap and
/// peaked at 6.2 GB instead of 2.6 GB. Linux with glibc only; elsewhere it does nothing. The cost is that the process keeps
/// its peak native heap of the training steps.
/// </remarks>
public static class NativeMemoryTuning
{
    private const int M_TRIM_THRESHOLD = -1, M_MMAP_MAX = -4;
    private static int requested, applied;

    /// <summary>True once the tuning is in effect for this process (from the first training loop on).</summary>
    public static bool IsApplied => Volatile.Read(ref applied) == 2;

    /// <summary>True once an application asked for the tuning and this platform supports it.</summary>
    public static bool IsRequested => Volatile.Read(ref requested) == 2;

    /// <summary>
    /// Asks for the tuning (later calls do nothing); it takes effect when the first training loop starts. Returns whether
    /// it is supported here: Linux with glibc, and <c>NEFTUNE_NATIVE_MEMORY_TUNING</c> not set to <c>0</c>.
    /// </summary>
    public static bool KeepFreedMemory()
    {
        if (Interlocked.CompareExchange(ref requested, 1, 0) != 0) return IsRequested;
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("NEFTUNE_NATIVE_MEMORY_TUNING") == "0") return false;
        if (!NativeLibrary.TryLoad("libc.so.6", out var libc) || !NativeLibrary.TryGetExport(libc, "mallopt", out _)
            || !NativeLibrary.TryGetExport(libc, "malloc_trim", out _))
            return false;   // not glibc (e.g. musl)
        Volatile.Write(ref requested, 2);
        return true;
    }

    /// <summary>
    /// Called by the trainer before its first step: when the tuning was asked for, returns the memory freed while loading
    /// and preparing the model to the system, then keeps what the steps free. Once per process.
    /// </summary>
    internal static void EnterTrainingLoop()
    {
        if (!IsRequested || Interlocked.CompareExchange(ref applied, 1, 0) != 0) return;
        malloc_trim(0);
        if (mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, int.MaxValue) == 1) Volatile.Write(ref applied, 2);
    }

    [DllImport("libc.so.6", EntryPoint = "mallopt")]
    private static extern int mallopt(int param, int value);

    [DllImport("libc.so.6", EntryPoint = "malloc_trim")]
    private static extern int malloc_trim(nuint pad);
}
