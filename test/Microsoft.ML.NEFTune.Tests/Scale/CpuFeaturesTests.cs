using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.Scale;

/// <summary>Fast-bfloat16 detection from CPU flags and the automatic dtype it leads to.</summary>
public class CpuFeaturesTests
{
    [Fact]
    public void FindsBFloat16FlagsInCpuInfo()
    {
        var zen5 = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\nbugs\t: none\n";
        var epyc = "processor\t: 0\nflags\t\t: fpu avx2 fma bmi2\n";
        var sapphire = "flags : avx512f amx_bf16 amx_tile avx512_bf16\n";
        Assert.Equal(new[] { "avx512_bf16" }, CpuFeatures.ParseCpuInfo(zen5));
        Assert.Empty(CpuFeatures.ParseCpuInfo(epyc));
        Assert.Equal(new[] { "avx512_bf16", "amx_bf16" }, CpuFeatures.ParseCpuInfo(sapphire));
        Assert.Empty(CpuFeatures.ParseCpuInfo(""));
    }

    [Fact]
    public void AutoDTypeComputesInBFloat16OnlyWhereItIsFast()
    {
        var auto = new ModelLoadOptions { DType = null };
        Assert.Equal(ScalarType.BFloat16, auto.Resolve("bfloat16", fastBFloat16: true, out var none));
        Assert.Null(none);
        Assert.Equal(ScalarType.Float32, auto.Resolve("bfloat16", fastBFloat16: false, out var note));
        Assert.Contains("no fast bfloat16", note);
        Assert.Equal(ScalarType.Float32, auto.Resolve("float32", fastBFloat16: true, out _));
        Assert.Equal(ScalarType.Float32, auto.Resolve("float16", fastBFloat16: true, out _));
        Assert.Equal(ScalarType.BFloat16, new ModelLoadOptions { DType = ScalarType.BFloat16 }.Resolve("float32", false, out _));
        Assert.Null(ModelLoadOptions.ParseDType("auto"));
        Assert.Equal(ScalarType.BFloat16, ModelLoadOptions.ParseDType("bf16"));
        Assert.Throws<FormatException>(() => ModelLoadOptions.ParseDType("fp8"));
    }
}
