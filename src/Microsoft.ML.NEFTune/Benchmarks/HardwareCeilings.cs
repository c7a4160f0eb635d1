using System.Diagnostics;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Benchmarks;

/// <summary>The two ceilings of this machine as libtorch reaches them: square matrix-product throughput and copy bandwidth.</summary>
public static class HardwareCeilings
{
    /// <summary>
    /// GFLOP/s of an n×n by n×n matrix product (2·n³ FLOPs) in <paramref name="dtype"/>, the median of
    /// <paramref name="repetitions"/> timed products after one untimed one.
    /// </summary>
    public static double MatmulGflops(ScalarType dtype, int n, int repetitions)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var generator = new Generator(1);
        var a = randn(new long[] { n, n }, generator: generator).to_type(dtype);
        var b = randn(new long[] { n, n }, generator: generator).to_type(dtype);
        a.mm(b).Dispose();
        var seconds = new List<double>();
        for (int i = 0; i < repetitions; i++)
        {
            var clock = Stopwatch.StartNew();
            using var c = a.mm(b);
            seconds.Add(clock.Elapsed.TotalSeconds);
        }
        return 2.0 * n * n * n / Statistics.Median(seconds) / 1e9;
    }

    /// <summary>
    /// Copy bandwidth in GB/s of a float32 buffer of <paramref name="megabytes"/> MB into another, counting the bytes
    /// read and the bytes written (the STREAM "copy" convention); the median of <paramref name="repetitions"/>.
    /// </summary>
    public static double CopyGbps(int megabytes, int repetitions)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long elements = (long)megabytes * 1024 * 1024 / sizeof(float);
        var source = ones(elements);
        var target = zeros(elements);
        target.copy_(source);
        var seconds = new List<double>();
        for (int i = 0; i < repetitions; i++)
        {
            var clock = Stopwatch.StartNew();
            target.copy_(source);
            seconds.Add(clock.Elapsed.TotalSeconds);
        }
        return 2.0 * elements * sizeof(float) / Statistics.Median(seconds) / 1e9;
    }
}
