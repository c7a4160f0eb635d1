using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>
/// <c>y = x · Wᵀ + b</c> for a single row of bfloat16 on the CPU: the shape of every product while decoding one
/// sequence token by token, where each weight is read once per token and speed is bounded by memory bandwidth.
/// libtorch 2.10's bfloat16 matrix-vector path streamed a 5632 × 2048 weight at 14–21 GB/s on a 2-core Zen 5 VM whose
/// copy bandwidth is ~33 GB/s; this kernel widens each bfloat16 weight to float32 in registers (a 16-bit shift) and
/// accumulates in float32 with fused multiply-adds, four rows at a time, one range of rows per torch thread.
/// The result is rounded to bfloat16 once, to nearest even, as libtorch rounds its float32 accumulator; only the
/// order of the float32 additions differs from libtorch's.
/// </summary>
internal static unsafe class SingleRowProduct
{
    /// <summary>True where 512- or 256-bit vectors run in hardware.</summary>
    public static bool Accelerated => Vector512.IsHardwareAccelerated || Vector256.IsHardwareAccelerated;

    /// <summary>
    /// Whether <see cref="Linear(Tensor, Tensor, Tensor?)"/> computes <c>linear(x, weight, bias)</c>: one row, bfloat16
    /// input, weight and bias, CPU storage, contiguous, and no gradient to record.
    /// </summary>
    public static bool Applies(Tensor x, Tensor weight, Tensor? bias = null) =>
        Accelerated && x.device_type == DeviceType.CPU && weight.device_type == DeviceType.CPU
        && x.dtype == ScalarType.BFloat16 && weight.dtype == ScalarType.BFloat16 && (bias is null || bias.dtype == ScalarType.BFloat16)
        && weight.dim() == 2 && x.numel() == weight.shape[1] && x.is_contiguous() && weight.is_contiguous()
        && weight.numel() * 2 <= int.MaxValue
        && !(is_grad_enabled() && (x.requires_grad || weight.requires_grad || (bias?.requires_grad ?? false)));

    /// <summary>
    /// The projection of <paramref name="x"/> by <paramref name="projection"/>: through the kernel when it is a plain
    /// <see cref="TorchSharp.Modules.Linear"/> and <see cref="Applies"/> holds, else through its <c>call</c>.
    /// </summary>
    public static Tensor Project(nn.Module<Tensor, Tensor> projection, Tensor x) =>
        projection is Linear linear && Applies(x, linear.weight!, linear.bias) ? Linear(x, linear.weight!, linear.bias) : projection.call(x);

    /// <summary><c>linear(x, weight, bias)</c> for one row (see <see cref="Applies"/>): (…, in) → (…, out), bfloat16.</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias)
    {
        long rows = weight.shape[0], columns = weight.shape[1];
        var shape = x.shape.ToArray();
        shape[^1] = rows;
        var result = empty(shape, ScalarType.BFloat16);
        var input = ArrayPool<float>.Shared.Rent((int)columns);
        try
        {
            ushort* xs = Pointer(x);
            for (long i = 0; i < columns; i++) input[i] = Widen(xs[i]);
            fixed (float* xp = input)
            {
                var (w, b, y, v) = ((IntPtr)Pointer(weight), bias is null ? IntPtr.Zero : (IntPtr)Pointer(bias), (IntPtr)Pointer(result), (IntPtr)xp);
                int workers = (int)Math.Clamp(Math.Min(get_num_threads(), rows / 64), 1, 64);
                if (workers == 1) Rows((ushort*)w, (ushort*)b, (float*)v, (ushort*)y, 0, rows, columns);
                else
                    Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers },
                        k => Rows((ushort*)w, (ushort*)b, (float*)v, (ushort*)y, rows * k / workers, rows * (k + 1) / workers, columns));
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(input);
        }
        GC.KeepAlive(x); GC.KeepAlive(weight); GC.KeepAlive(bias);
        return result;
    }

    /// <summary>Rows [r0, r1) of y = W·x (+ b), four at a time.</summary>
    private static void Rows(ushort* w, ushort* bias, float* x, ushort* y, long r0, long r1, long columns)
    {
        long r = r0;
        for (; r + 4 <= r1; r += 4)
        {
            ushort* p = w + r * columns;
            var (s0, s1, s2, s3) = Dot4(p, p + columns, p + 2 * columns, p + 3 * columns, x, columns);
            y[r] = Round(s0, bias, r); y[r + 1] = Round(s1, bias, r + 1); y[r + 2] = Round(s2, bias, r + 2); y[r + 3] = Round(s3, bias, r + 3);
        }
        for (; r < r1; r++)
        {
            ushort* p = w + r * columns;
            float s = 0;
            for (long i = 0; i < columns; i++) s += Widen(p[i]) * x[i];
            y[r] = Round(s, bias, r);
        }
    }

    private static (float, float, float, float) Dot4(ushort* p0, ushort* p1, ushort* p2, ushort* p3, float* x, long columns)
    {
        long i = 0;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var (a0, a1, a2, a3) = (Vector512<float>.Zero, Vector512<float>.Zero, Vector512<float>.Zero, Vector512<float>.Zero);
            for (; i + 16 <= columns; i += 16)
            {
                var xv = Vector512.Load(x + i);
                a0 = Vector512.FusedMultiplyAdd(Widen16(p0 + i), xv, a0);
                a1 = Vector512.FusedMultiplyAdd(Widen16(p1 + i), xv, a1);
                a2 = Vector512.FusedMultiplyAdd(Widen16(p2 + i), xv, a2);
                a3 = Vector512.FusedMultiplyAdd(Widen16(p3 + i), xv, a3);
            }
            (s0, s1, s2, s3) = (Vector512.Sum(a0), Vector512.Sum(a1), Vector512.Sum(a2), Vector512.Sum(a3));
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var (a0, a1, a2, a3) = (Vector256<float>.Zero, Vector256<float>.Zero, Vector256<float>.Zero, Vector256<float>.Zero);
            for (; i + 8 <= columns; i += 8)
            {
                var xv = Vector256.Load(x + i);
                a0 = Vector256.FusedMultiplyAdd(Widen8(p0 + i), xv, a0);
                a1 = Vector256.FusedMultiplyAdd(Widen8(p1 + i), xv, a1);
                a2 = Vector256.FusedMultiplyAdd(Widen8(p2 + i), xv, a2);
                a3 = Vector256.FusedMultiplyAdd(Widen8(p3 + i), xv, a3);
            }
            (s0, s1, s2, s3) = (Vector256.Sum(a0), Vector256.Sum(a1), Vector256.Sum(a2), Vector256.Sum(a3));
        }
        for (; i < columns; i++)
        {
            float xi = x[i];
            s0 += Widen(p0[i]) * xi; s1 += Widen(p1[i]) * xi; s2 += Widen(p2[i]) * xi; s3 += Widen(p3[i]) * xi;
        }
        return (s0, s1, s2, s3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Widen16(ushort* p) => Vector512.ShiftLeft(Vector512.WidenLower(Vector256.Load(p).ToVector512Unsafe()), 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Widen8(ushort* p) => Vector256.ShiftLeft(Vector256.WidenLower(Vector128.Load(p).ToVector256Unsafe()), 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Widen(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>The float32 sum plus the bias, rounded to bfloat16 (nearest even; NaN stays NaN).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort Round(float sum, ushort* bias, long row)
    {
        if (bias != null) sum += Widen(bias[row]);
        uint bits = BitConverter.SingleToUInt32Bits(sum);
        if (float.IsNaN(sum)) return (ushort)((bits >> 16) | 0x40);
        return (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
    }

    private static ushort* Pointer(Tensor t) => (ushort*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.bytes));
}
