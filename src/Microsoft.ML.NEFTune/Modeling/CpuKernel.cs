using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>
/// What the managed CPU kernels (<see cref="SingleRowProduct"/>, NF4/int8 dequantization) share: a pointer to a
/// tensor's storage, bfloat16 bits to and from float32 as libtorch converts them, and rows split over the torch threads.
/// </summary>
internal static unsafe class CpuKernel
{
    /// <summary>The storage of a contiguous CPU tensor under 2 GiB.</summary>
    public static T* Pointer<T>(Tensor t) where T : unmanaged
    {
        if (!t.is_contiguous()) throw new InvalidOperationException("a CPU kernel needs contiguous storage");
        return (T*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.bytes));
    }

    /// <summary>bfloat16 bits → float32 (exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Widen(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>float32 → bfloat16 bits, rounded to nearest even as <c>to_type(BFloat16)</c> rounds; NaN stays NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);
        return (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
    }

    /// <summary>
    /// Runs <paramref name="body"/> over [0, <paramref name="count"/>) cut into one range per torch thread, with at least
    /// <paramref name="minimumPerRange"/> items per range (on the calling thread alone when that leaves one range).
    /// </summary>
    public static void ForRanges(long count, Action<long, long> body, long minimumPerRange = 64)
    {
        int workers = (int)Math.Clamp(Math.Min(get_num_threads(), count / minimumPerRange), 1, 64);
        if (workers == 1) { body(0, count); return; }
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers },
            w => body(count * w / workers, count * (w + 1) / workers));
    }
}
