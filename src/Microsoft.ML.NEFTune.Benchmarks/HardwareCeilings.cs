using System.Diagnostics;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Benchmarks;

/// <summary>
/// The two ceilings of this machine as libtorch reaches them: an n×n by n×n matrix product in float32 and in
/// bfloat16 (2·n³ FLOPs each), and the bandwidth of copying one float32 buffer into another. The operands are
/// allocated once, so a sample can be taken between training steps (on a shared machine the ceilings move with the
/// load, and a figure is only comparable to ceilings sampled at the same time).
/// </summary>
public sealed class HardwareCeilings : IDisposable
{
    private readonly Tensor a32, b32, a16, b16, source, target;

    public HardwareCeilings(int matmulSize, int copyMegabytes)
    {
        MatmulSize = matmulSize;
        using var _ = no_grad();
        using var generator = new Generator(1);
        a32 = randn(new long[] { matmulSize, matmulSize }, generator: generator).DetachFromDisposeScope();
        b32 = randn(new long[] { matmulSize, matmulSize }, generator: generator).DetachFromDisposeScope();
        a16 = a32.to_type(ScalarType.BFloat16).DetachFromDisposeScope();
        b16 = b32.to_type(ScalarType.BFloat16).DetachFromDisposeScope();
        long elements = (long)copyMegabytes * 1024 * 1024 / sizeof(float);
        source = ones(elements).DetachFromDisposeScope();
        target = zeros(elements).DetachFromDisposeScope();
        Sample(1);                                                              // first touches and library warm-up, not recorded
        Fp32Gflops.Clear(); Bf16Gflops.Clear(); CopyGbps.Clear();
    }

    public int MatmulSize { get; }
    public List<double> Fp32Gflops { get; } = new();
    public List<double> Bf16Gflops { get; } = new();

    /// <summary>
    /// GB/s counting the bytes read and the bytes written (the STREAM "copy" convention); each sample is the fastest of
    /// three consecutive copies, since a single 128 MB copy (a few milliseconds) was seen to read 28 GB/s in one process
    /// and 44–47 GB/s in others on the same idle VM.
    /// </summary>
    public List<double> CopyGbps { get; } = new();

    /// <summary>Times <paramref name="repetitions"/> products in each dtype and as many copies, recording each.</summary>
    public void Sample(int repetitions)
    {
        using var _ = no_grad();
        double flops = 2.0 * MatmulSize * MatmulSize * (double)MatmulSize;
        for (int i = 0; i < repetitions; i++)
        {
            Fp32Gflops.Add(flops / Seconds(() => { using var c = a32.mm(b32); }) / 1e9);
            Bf16Gflops.Add(flops / Seconds(() => { using var c = a16.mm(b16); }) / 1e9);
            double copy = Enumerable.Range(0, 3).Min(_ => Seconds(() => target.copy_(source)));   // one copy is a few ms: the fastest of three
            CopyGbps.Add(2.0 * source.numel() * sizeof(float) / copy / 1e9);
        }
    }

    private static double Seconds(Action action)
    {
        var clock = Stopwatch.StartNew();
        action();
        return clock.Elapsed.TotalSeconds;
    }

    public void Dispose()
    {
        foreach (var t in new[] { a32, b32, a16, b16, source, target }) t.Dispose();
    }
}
