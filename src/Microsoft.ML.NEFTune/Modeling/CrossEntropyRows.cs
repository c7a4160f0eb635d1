using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>
/// The cross-entropy of each row of a chunk of logits and its gradient, in one pass over the chunk on the CPU:
/// <c>lseᵢ = log Σⱼ exp(zᵢⱼ)</c>, <c>Σᵢ lseᵢ − zᵢ,yᵢ</c> returned, and <c>zᵢ ← softmax(zᵢ) − onehot(yᵢ)</c> written
/// in place, rounded once to the logits' dtype. Each row is computed in float32 (max shift, vectorised exp into a
/// float32 row buffer that stays in cache, one scaling pass), where the tensor path (<c>to_type</c>,
/// <c>logsumexp</c>, <c>gather</c>, <c>sub_</c>, <c>exp_</c>, <c>scatter_add_</c>, <c>to_type</c>) makes seven passes
/// over the chunk and two exponentials per logit: for the stories15M head (2048 rows of 32000 logits) those passes
/// took about a quarter of the head's time in float32 and a third in bfloat16.
/// </summary>
internal static unsafe class CrossEntropyRows
{
    /// <summary>Whether <see cref="Apply"/> takes <paramref name="logits"/>: (n, V) float32 or bfloat16, contiguous, CPU, vectors in hardware.</summary>
    public static bool Applies(Tensor logits) =>
        SingleRowProduct.Accelerated && logits.dim() == 2 && logits.dtype is (ScalarType.Float32 or ScalarType.BFloat16)
        && logits.device_type == TorchSharp.DeviceType.CPU && logits.is_contiguous() && logits.numel() * logits.ElementSize <= int.MaxValue;

    /// <param name="logits">(n, V), replaced by the gradient of the summed loss when <paramref name="gradient"/> is set.</param>
    /// <param name="targets">(n) int64 class ids in [0, V).</param>
    /// <param name="gradient">Whether to write <c>softmax − onehot</c> over the logits.</param>
    /// <returns>Σᵢ lseᵢ − zᵢ,yᵢ, summed in float64.</returns>
    public static double Apply(Tensor logits, Tensor targets, bool gradient)
    {
        long n = logits.shape[0], V = logits.shape[1];
        var ids = targets.to_type(ScalarType.Int64).contiguous().data<long>().ToArray();
        foreach (var y in ids) if ((ulong)y >= (ulong)V) throw new ArgumentOutOfRangeException(nameof(targets), $"target {y} is outside [0, {V})");
        bool bf16 = logits.dtype == ScalarType.BFloat16;
        var z = (IntPtr)CpuKernel.Pointer<byte>(logits);
        var losses = new double[n];
        CpuKernel.ForRanges(n, (r0, r1) =>
        {
            var row = ArrayPool<float>.Shared.Rent((int)V);                      // one float32 row per worker, reused
            try
            {
                fixed (float* e = row)
                    for (long r = r0; r < r1; r++)
                        losses[r] = bf16 ? Row((ushort*)z + r * V, e, V, ids[r], gradient) : Row((float*)z + r * V, e, V, ids[r], gradient);
            }
            finally
            {
                ArrayPool<float>.Shared.Return(row);
            }
        }, minimumPerRange: 1);
        GC.KeepAlive(logits);
        return losses.Sum();
    }

    private static double Row(float* z, float* e, long V, long target, bool gradient)
    {
        float max = Max(z, V), zy = z[target];
        float sum = ExpShifted(z, e, V, max);                    // e = exp(z − max), Σ e
        if (gradient)
        {
            Scale(e, z, V, 1 / sum);                             // z = e / Σ e
            z[target] -= 1;
        }
        return max + Math.Log(sum) - zy;
    }

    private static double Row(ushort* z, float* e, long V, long target, bool gradient)
    {
        Widen(z, e, V);
        float max = Max(e, V), zy = e[target];
        float sum = ExpShifted(e, e, V, max);
        if (gradient)
        {
            float inverse = 1 / sum;
            long j = 0;
            if (Vector512.IsHardwareAccelerated && float.IsFinite(inverse))          // finite softmax values: no NaN to keep
                for (var a = Vector512.Create(inverse); j + 32 <= V; j += 32)
                    Vector512.Narrow(RoundToBFloat16(Vector512.Load(e + j) * a), RoundToBFloat16(Vector512.Load(e + j + 16) * a)).Store(z + j);
            for (; j < V; j++) z[j] = CpuKernel.ToBFloat16(e[j] * inverse);
            z[target] = CpuKernel.ToBFloat16(e[target] * inverse - 1);
        }
        return max + Math.Log(sum) - zy;
    }

    /// <summary>bfloat16 bits → float32, 32 at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Widen(ushort* x, float* y, long n)
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 32 <= n; i += 32)
            {
                var w = Vector512.Load(x + i);
                Vector512.ShiftLeft(Vector512.WidenLower(w), 16).AsSingle().Store(y + i);
                Vector512.ShiftLeft(Vector512.WidenUpper(w), 16).AsSingle().Store(y + i + 16);
            }
        for (; i < n; i++) y[i] = CpuKernel.Widen(x[i]);
    }

    /// <summary>Finite float32 → bfloat16 bits in the low half of each lane, rounded to nearest even (<see cref="CpuKernel.ToBFloat16"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> RoundToBFloat16(Vector512<float> x)
    {
        var bits = x.AsUInt32();
        return Vector512.ShiftRightLogical(bits + Vector512.Create(0x7FFFu) + (Vector512.ShiftRightLogical(bits, 16) & Vector512<uint>.One), 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Max(float* x, long n)
    {
        long i = 0;
        float m = float.NegativeInfinity;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            var v = Vector512.Create(float.NegativeInfinity);
            for (; i + 16 <= n; i += 16) v = Vector512.Max(v, Vector512.Load(x + i));
            for (int k = 0; k < 16; k++) m = Math.Max(m, v[k]);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var v = Vector256.Create(float.NegativeInfinity);
            for (; i + 8 <= n; i += 8) v = Vector256.Max(v, Vector256.Load(x + i));
            for (int k = 0; k < 8; k++) m = Math.Max(m, v[k]);
        }
        for (; i < n; i++) m = Math.Max(m, x[i]);
        return m;
    }

    /// <summary>e[j] = exp(x[j] − shift) (e may be x); returns Σ e.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float ExpShifted(float* x, float* e, long n, float shift)
    {
        long i = 0;
        float s = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var (acc, sh) = (Vector512<float>.Zero, Vector512.Create(shift));
            for (; i + 16 <= n; i += 16)
            {
                var v = Vector512.Exp(Vector512.Load(x + i) - sh);
                v.Store(e + i);
                acc += v;
            }
            s = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var (acc, sh) = (Vector256<float>.Zero, Vector256.Create(shift));
            for (; i + 8 <= n; i += 8)
            {
                var v = Vector256.Exp(Vector256.Load(x + i) - sh);
                v.Store(e + i);
                acc += v;
            }
            s = Vector256.Sum(acc);
        }
        for (; i < n; i++) s += e[i] = MathF.Exp(x[i] - shift);
        return s;
    }

    /// <summary>y[j] = x[j] · a.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scale(float* x, float* y, long n, float a)
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (var av = Vector512.Create(a); i + 16 <= n; i += 16) (Vector512.Load(x + i) * av).Store(y + i);
        for (; i < n; i++) y[i] = x[i] * a;
    }
}
