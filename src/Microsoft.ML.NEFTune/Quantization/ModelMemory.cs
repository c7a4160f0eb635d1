using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Quantization;

/// <summary>Bytes held by a module's stored tensors (parameters and buffers, each tensor counted once).</summary>
public static class ModelMemory
{
    public static long StoredBytes(nn.Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        var seen = new HashSet<IntPtr>();
        long total = 0;
        foreach (var (_, p) in module.named_parameters())
            if (seen.Add(p.Handle)) total += p.numel() * p.ElementSize;
        foreach (var (_, b) in module.named_buffers())
            if (seen.Add(b.Handle)) total += b.numel() * b.ElementSize;
        return total;
    }
}
