using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.IO;

/// <summary>Copies between raw little-endian bytes and tensor storage, through spans over the storage (tensors under 2 GiB).</summary>
internal static class TensorBytes
{
    /// <summary>Fills a contiguous CPU tensor from <paramref name="length"/> bytes of a stream.</summary>
    public static void ReadInto(Tensor destination, Stream stream, long length)
    {
        var target = destination.bytes;   // view of the storage
        if (target.Length != length) throw new InvalidOperationException($"tensor holds {target.Length} bytes, not {length}");
        stream.ReadExactly(target);
    }

    /// <summary>Writes a tensor's elements (moved to CPU, made contiguous) to a stream.</summary>
    public static void Write(Tensor tensor, Stream stream)
    {
        using var cpu = tensor.detach().cpu().contiguous();
        stream.Write(cpu.bytes);
    }
}
