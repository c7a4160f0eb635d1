using System.Text;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.IO;

public class SafetensorsFileTests
{
    private static string WriteRaw(TempDirectory dir, string header, int dataBytes)
    {
        var path = dir["raw.safetensors"];
        var json = Encoding.UTF8.GetBytes(header);
        using var s = File.Create(path);
        s.Write(BitConverter.GetBytes((ulong)json.Length));
        s.Write(json);
        s.Write(new byte[dataBytes]);
        return path;
    }

    private static ModelFormatException Refused(string header, int dataBytes)
    {
        using var dir = new TempDirectory();
        return Assert.Throws<ModelFormatException>(() => SafetensorsFile.Open(WriteRaw(dir, header, dataBytes)));
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.Int64)]
    public void SavedTensorsReadBackBitForBit(ScalarType dtype)
    {
        using var dir = new TempDirectory();
        using var a = randn(3, 5).to_type(dtype);
        using var b = arange(7).to_type(dtype);
        SafetensorsFile.Save(dir["t.safetensors"], new Dictionary<string, Tensor> { ["a"] = a, ["b.c"] = b });
        var file = SafetensorsFile.Open(dir["t.safetensors"]);
        using var a2 = file.Read("a");
        using var b2 = file.Read("b.c");
        Assert.Equal(dtype, a2.dtype);
        Assert.Equal(a.shape, a2.shape);
        Assert.True(a.to_type(ScalarType.Float64).allclose(a2.to_type(ScalarType.Float64), rtol: 0, atol: 0));
        Assert.True(b.to_type(ScalarType.Float64).allclose(b2.to_type(ScalarType.Float64), rtol: 0, atol: 0));
    }

    [Fact]
    public void HeaderIsPaddedToEightBytesAsTheFormatRequires()
    {
        using var dir = new TempDirectory();
        using var t = ones(3);
        SafetensorsFile.Save(dir["t.safetensors"], new Dictionary<string, Tensor> { ["x"] = t });
        var bytes = File.ReadAllBytes(dir["t.safetensors"]);
        Assert.Equal(0UL, BitConverter.ToUInt64(bytes, 0) % 8);
        Assert.Equal(8 + (long)BitConverter.ToUInt64(bytes, 0) + 12, bytes.Length);
    }

    [Fact]
    public void OffsetsOutsideTheFileAreRefused() =>
        Assert.Contains("outside", Refused("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8).Message);

    [Fact]
    public void AHundredGigabyteClaimIsRefusedWithoutAllocating() =>
        Assert.Contains("outside", Refused("{\"w\":{\"dtype\":\"F32\",\"shape\":[25000000000],\"data_offsets\":[0,100000000000]}}", 16).Message);

    [Fact]
    public void ShapeThatDisagreesWithByteLengthIsRefused() =>
        Assert.Contains("needs 16 bytes", Refused("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,12]}}", 16).Message);

    [Fact]
    public void OverlappingTensorsAreRefused() =>
        Assert.Contains("overlaps", Refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12).Message);

    [Fact]
    public void UnsupportedDtypeIsNamed() =>
        Assert.Contains("'F8_E4M3'", Refused("{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4).Message);

    [Fact]
    public void InvalidJsonHeaderIsRefused() =>
        Assert.Contains("not valid JSON", Refused("{\"w\":", 0).Message);

    [Fact]
    public void TruncatedFilesAreRefused()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir["short"], new byte[5]);
        Assert.Contains("truncated", Assert.Throws<ModelFormatException>(() => SafetensorsFile.Open(dir["short"])).Message);
        var path = dir["huge-header"];
        File.WriteAllBytes(path, BitConverter.GetBytes(1_000_000UL).Concat(new byte[10]).ToArray());
        Assert.Contains("truncated", Assert.Throws<ModelFormatException>(() => SafetensorsFile.Open(path)).Message);
    }
}
