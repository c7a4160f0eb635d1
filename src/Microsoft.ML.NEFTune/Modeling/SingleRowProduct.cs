using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>
/// <c>y = x · Wᵀ + b</c> for a single row of bfloat16 on the CPU: the shape of every product while decoding one
/// sequence token by token, where each weight is read once per token and speed is bounded by memory bandwidth.
/// libtorch 2.10's bfloat16 path for it streamed a 32000 × 2048 weight at 19–20 GB/s on a 2-core Zen 5 VM whose
/// copy bandwidth is 51–67 GB/s (this kernel: 35–42 GB/s); it widens each bfloat16 weight to float32 in registers (a 16-bit shift) and
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
        x.dtype == ScalarType.BFloat16 && Streams(weight) && x.device_type == DeviceType.CPU && x.numel() == weight.shape[1] && x.is_contiguous()
        && (bias is null || bias.dtype == ScalarType.BFloat16)
        && !(is_grad_enabled() && (x.requires_grad || weight.requires_grad || (bias?.requires_grad ?? false)));

    /// <summary>Whether the kernel can read <paramref name="weight"/> (out, in): bfloat16, contiguous, on the CPU, under 2 GiB.</summary>
    public static bool Streams(Tensor weight) =>
        Accelerated && weight.dtype == ScalarType.BFloat16 && weight.device_type == DeviceType.CPU && weight.dim() == 2
        && weight.is_contiguous() && weight.numel() * 2 <= int.MaxValue;

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
            ushort* xs = CpuKernel.Pointer<ushort>(x);
            for (long i = 0; i < columns; i++) input[i] = CpuKernel.Widen(xs[i]);
            fixed (float* xp = input)
            {
                var (w, b, y, v) = ((IntPtr)CpuKernel.Pointer<ushort>(weight), bias is null ? IntPtr.Zero : (IntPtr)CpuKernel.Pointer<ushort>(bias),
                    (IntPtr)CpuKernel.Pointer<ushort>(result), (IntPtr)xp);
                CpuKernel.ForRanges(rows, (r0, r1) => Rows((ushort*)w, (ushort*)b, (float*)v, (ushort*)y, r0, r1, columns));
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(input);
        }
        GC.KeepAlive(x); GC.KeepAlive(weight); GC.KeepAlive(bias);
        return result;
    }

    /// <summary>
    /// <c>y = [W₁; W₂; …] · x + [b₁; b₂; …]</c> in float32 for bfloat16 or float32 weights that share the input: the products of
    /// q/k/v or gate/up in one dispatch over the torch threads, their outputs laid end to end in <paramref name="y"/>.
    /// </summary>
    public static void Products(StreamedWeight[] weights, float* x, float* y)
    {
        long total = 0;
        foreach (var w in weights) total += w.Rows;
        var (xs, ys) = ((IntPtr)x, (IntPtr)y);
        CpuKernel.ForRanges(total, (r0, r1) =>
        {
            long offset = 0;
            foreach (var w in weights)
            {
                for (long r = Math.Max(r0, offset), end = Math.Min(r1, offset + w.Rows); r < end; r++)
                {
                    long row = r - offset;
                    float sum = w.Float32 ? Dot((float*)w.Weight + row * w.Columns, (float*)xs, w.Columns) : Dot((ushort*)w.Weight + row * w.Columns, (float*)xs, w.Columns);
                    ((float*)ys)[r] = w.Bias == IntPtr.Zero ? sum : sum + (w.Float32 ? ((float*)w.Bias)[row] : CpuKernel.Widen(((ushort*)w.Bias)[row]));
                }
                offset += w.Rows;
            }
        });
    }

    /// <summary>Rows [r0, r1) of y = W·x (+ b), each row one sequential stream.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows(ushort* w, ushort* bias, float* x, ushort* y, long r0, long r1, long columns)
    {
        for (long r = r0; r < r1; r++) y[r] = Round(Dot(w + r * columns, x, columns), bias, r);
    }

    /// <summary>Σᵢ widen(p[i]) · x[i] in float32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot(ushort* p, float* x, long columns)
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
            for (; i + 16 <= columns; i += 16)                           // the last 16-column groups
                a0 = Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(Vector512.WidenLower(Vector256.Load(p + i).ToVector512()), 16).AsSingle(), Vector512.Load(x + i), a0);
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
            for (; i + 8 <= columns; i += 8)
                a0 = Vector256.FusedMultiplyAdd(Vector256.ShiftLeft(Vector256.WidenLower(Vector128.Load(p + i).ToVector256()), 16).AsSingle(), Vector256.Load(x + i), a0);
            s = Vector256.Sum((a0 + a1) + (a2 + a3));
        }
        for (; i < columns; i++) s += CpuKernel.Widen(p[i]) * x[i];
        return s;
    }

    /// <summary>Σᵢ p[i] · x[i] in float32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot(float* p, float* x, long columns)
    {
        long i = 0;
        float s = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var (a0, a1, a2, a3) = (Vector512<float>.Zero, Vector512<float>.Zero, Vector512<float>.Zero, Vector512<float>.Zero);
            for (; i + 64 <= columns; i += 64)
            {
                a0 = Vector512.FusedMultiplyAdd(Vector512.Load(p + i), Vector512.Load(x + i), a0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.Load(p + i + 16), Vector512.Load(x + i + 16), a1);
                a2 = Vector512.FusedMultiplyAdd(Vector512.Load(p + i + 32), Vector512.Load(x + i + 32), a2);
                a3 = Vector512.FusedMultiplyAdd(Vector512.Load(p + i + 48), Vector512.Load(x + i + 48), a3);
            }
            for (; i + 16 <= columns; i += 16) a0 = Vector512.FusedMultiplyAdd(Vector512.Load(p + i), Vector512.Load(x + i), a0);
            s = Vector512.Sum((a0 + a1) + (a2 + a3));
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var (a0, a1, a2, a3) = (Vector256<float>.Zero, Vector256<float>.Zero, Vector256<float>.Zero, Vector256<float>.Zero);
            for (; i + 32 <= columns; i += 32)
            {
                a0 = Vector256.FusedMultiplyAdd(Vector256.Load(p + i), Vector256.Load(x + i), a0);
                a1 = Vector256.FusedMultiplyAdd(Vector256.Load(p + i + 8), Vector256.Load(x + i + 8), a1);
                a2 = Vector256.FusedMultiplyAdd(Vector256.Load(p + i + 16), Vector256.Load(x + i + 16), a2);
                a3 = Vector256.FusedMultiplyAdd(Vector256.Load(p + i + 24), Vector256.Load(x + i + 24), a3);
            }
            for (; i + 8 <= columns; i += 8) a0 = Vector256.FusedMultiplyAdd(Vector256.Load(p + i), Vector256.Load(x + i), a0);
            s = Vector256.Sum((a0 + a1) + (a2 + a3));
        }
        for (; i < columns; i++) s += p[i] * x[i];
        return s;
    }

    /// <summary>The float32 sum plus the bias, rounded to bfloat16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort Round(float sum, ushort* bias, long row) =>
        CpuKernel.ToBFloat16(bias == null ? sum : sum + CpuKernel.Widen(bias[row]));
}

/// <summary>A (rows, columns) bfloat16 (or float32) weight and its optional bias, both in CPU storage, as <see cref="SingleRowProduct.Products"/> reads them.</summary>
internal readonly record struct StreamedWeight(IntPtr Weight, IntPtr Bias, long Rows, long Columns, bool Float32);
