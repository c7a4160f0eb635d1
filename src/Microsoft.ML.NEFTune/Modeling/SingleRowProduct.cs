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
/// copy bandwidth is 36–50 GB/s; this kernel widens each bfloat16 weight to float32 in registers (a 16-bit shift) and
/// accumulates in float32 with fused multiply-adds, reading each row as one sequential stream (four interleaved rows
/// streamed 20–30% slower in the decoding loop), one range of rows per torch thread. Compiled fully optimized from the
/// first call, so the first decoded tokens do not run unoptimized vector code.
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

    /// <summary>Rows [r0, r1) of y = W·x (+ b), each row one sequential stream.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows(ushort* w, ushort* bias, float* x, ushort* y, long r0, long r1, long columns)
    {
        for (long r = r0; r < r1; r++) y[r] = Round(Dot(w + r * columns, x, columns), bias, r);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot(ushort* p, float* x, long columns)
    {
        long i = 0;
        float s = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var (a0, a1, a2, a3) = (Vector512<float>.Zero, Vector512<float>.Zero, Vector512<float>.Zero, Vector512<float>.Zero);
            for (; i + 64 <= columns; i += 64)
            {
                var w0 = Vector512.Load(p + i);                       // 32 weights
                var w1 = Vector512.Load(p + i + 32);
                a0 = Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(Vector512.WidenLower(w0), 16).AsSingle(), Vector512.Load(x + i), a0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(Vector512.WidenUpper(w0), 16).AsSingle(), Vector512.Load(x + i + 16), a1);
                a2 = Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(Vector512.WidenLower(w1), 16).AsSingle(), Vector512.Load(x + i + 32), a2);
                a3 = Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(Vector512.WidenUpper(w1), 16).AsSingle(), Vector512.Load(x + i + 48), a3);
            }
            s = Vector512.Sum((a0 + a1) + (a2 + a3));
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var (a0, a1, a2, a3) = (Vector256<float>.Zero, Vector256<float>.Zero, Vector256<float>.Zero, Vector256<float>.Zero);
            for (; i + 32 <= columns; i += 32)
            {
                var w0 = Vector256.Load(p + i);                       // 16 weights
                var w1 = Vector256.Load(p + i + 16);
                a0 = Vector256.FusedMultiplyAdd(Vector256.ShiftLeft(Vector256.WidenLower(w0), 16).AsSingle(), Vector256.Load(x + i), a0);
                a1 = Vector256.FusedMultiplyAdd(Vector256.ShiftLeft(Vector256.WidenUpper(w0), 16).AsSingle(), Vector256.Load(x + i + 8), a1);
                a2 = Vector256.FusedMultiplyAdd(Vector256.ShiftLeft(Vector256.WidenLower(w1), 16).AsSingle(), Vector256.Load(x + i + 16), a2);
                a3 = Vector256.FusedMultiplyAdd(Vector256.ShiftLeft(Vector256.WidenUpper(w1), 16).AsSingle(), Vector256.Load(x + i + 24), a3);
            }
            s = Vector256.Sum((a0 + a1) + (a2 + a3));
        }
        for (; i < columns; i++) s += Widen(p[i]) * x[i];
        return s;
    }

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
