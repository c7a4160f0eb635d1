using Microsoft.ML.NEFTune.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Quantization;

/// <summary>
/// Dequantization of NF4 and int8 weights on the CPU in one pass over the codes, written straight into a float32 or
/// bfloat16 tensor on the torch threads' count of workers. Through tensor operations the same reconstruction takes a
/// gather into a float32 copy, a scaling pass and a conversion pass: for a 5632 × 2048 NF4 layer on a 2-core Zen 5 VM,
/// warm memory, 13.0 ms against 7.9 ms here (the product it feeds, 256 rows in float32, takes ~41 ms), and a QLoRA
/// step dequantizes every layer two or three times.
/// Results are bit-identical to the tensor path: each value is one float32 product <c>code · scale</c>, and bfloat16
/// is that product rounded to nearest even, as <c>to_type(BFloat16)</c> rounds it.
/// </summary>
internal static unsafe class CpuDequantization
{
    /// <summary>Whether the kernels apply: CPU storage and a float32 or bfloat16 result.</summary>
    public static bool Applies(Device device, ScalarType dtype) =>
        device.type == DeviceType.CPU && dtype is ScalarType.Float32 or ScalarType.BFloat16;

    /// <summary>
    /// (rows, columns) from NF4 codes (two per byte, high nibble first, blocks of <paramref name="blockSize"/> values read
    /// row-major) and one float32 absmax per block.
    /// </summary>
    public static Tensor Nf4(Tensor packed, Tensor absmax, float[] codeBook, int blockSize, long rows, long columns, ScalarType dtype)
    {
        long n = rows * columns, blocks = (n + blockSize - 1) / blockSize;
        var result = empty(new[] { rows, columns }, dtype);
        byte* codes = CpuKernel.Pointer<byte>(packed);
        float* scales = CpuKernel.Pointer<float>(absmax);
        byte* output = CpuKernel.Pointer<byte>(result);
        bool bf16 = dtype == ScalarType.BFloat16;
        fixed (float* book = codeBook)
        {
            var table = (IntPtr)book;
            CpuKernel.ForRanges(blocks, (b0, b1) =>
            {
                var scaled = stackalloc float[16];
                var code = (float*)table;
                for (long b = b0; b < b1; b++)
                {
                    float a = scales[b];
                    for (int i = 0; i < 16; i++) scaled[i] = code[i] * a;
                    long first = b * blockSize, count = Math.Min(blockSize, n - first);
                    byte* c = codes + first / 2;
                    if (bf16)
                    {
                        ushort* o = (ushort*)output + first;
                        for (long k = 0; k + 1 < count; k += 2) { byte v = c[k >> 1]; o[k] = CpuKernel.ToBFloat16(scaled[v >> 4]); o[k + 1] = CpuKernel.ToBFloat16(scaled[v & 15]); }
                        if ((count & 1) != 0) o[count - 1] = CpuKernel.ToBFloat16(scaled[c[(count - 1) >> 1] >> 4]);
                    }
                    else
                    {
                        float* o = (float*)output + first;
                        for (long k = 0; k + 1 < count; k += 2) { byte v = c[k >> 1]; o[k] = scaled[v >> 4]; o[k + 1] = scaled[v & 15]; }
                        if ((count & 1) != 0) o[count - 1] = scaled[c[(count - 1) >> 1] >> 4];
                    }
                }
            });
        }
        GC.KeepAlive(packed); GC.KeepAlive(absmax);
        return result;
    }

    /// <summary>(rows, columns) from int8 codes (rows, columns) and one float32 scale per row.</summary>
    public static Tensor Int8(Tensor codes, Tensor rowScales, long rows, long columns, ScalarType dtype)
    {
        var result = empty(new[] { rows, columns }, dtype);
        sbyte* q = CpuKernel.Pointer<sbyte>(codes);
        float* scales = CpuKernel.Pointer<float>(rowScales);
        byte* output = CpuKernel.Pointer<byte>(result);
        bool bf16 = dtype == ScalarType.BFloat16;
        CpuKernel.ForRanges(rows, (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                float s = scales[r];
                sbyte* c = q + r * columns;
                if (bf16) { ushort* o = (ushort*)output + r * columns; for (long k = 0; k < columns; k++) o[k] = CpuKernel.ToBFloat16(c[k] * s); }
                else { float* o = (float*)output + r * columns; for (long k = 0; k < columns; k++) o[k] = c[k] * s; }
            }
        });
        GC.KeepAlive(codes); GC.KeepAlive(rowScales);
        return result;
    }
}
