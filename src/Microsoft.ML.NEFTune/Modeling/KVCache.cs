using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>
/// Pre-allocated key/value cache for incremental decoding: one (B, nkv, capacity, hs) buffer pair per layer,
/// filled in place, so a decode step copies only the new position.
/// </summary>
public sealed class KVCache : IDisposable
{
    private readonly Tensor[] keys;
    private readonly Tensor[] values;

    public KVCache(LlamaConfig config, long batch, long capacity, ScalarType dtype, Device device)
    {
        Capacity = capacity;
        keys = new Tensor[config.NumHiddenLayers];
        values = new Tensor[config.NumHiddenLayers];
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i] = zeros(new[] { batch, config.NumKeyValueHeads, capacity, config.HeadDim }, dtype, device);
            values[i] = zeros(new[] { batch, config.NumKeyValueHeads, capacity, config.HeadDim }, dtype, device);
        }
    }

    public long Capacity { get; }

    /// <summary>Number of positions already stored.</summary>
    public long Length { get; private set; }

    /// <summary>Writes k, v (B, nkv, T, hs) at the current length and returns views of everything stored so far.</summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        long t = k.shape[2];
        if (Length + t > Capacity) throw new InvalidOperationException($"KV cache capacity {Capacity} exceeded ({Length} + {t}).");
        using (var slot = keys[layer].narrow(2, Length, t)) slot.copy_(k);
        using (var slot = values[layer].narrow(2, Length, t)) slot.copy_(v);
        return (keys[layer].narrow(2, 0, Length + t), values[layer].narrow(2, 0, Length + t));
    }

    /// <summary>The (B, nkv, capacity, hs) key and value buffers of <paramref name="layer"/>, for kernels that write in place.</summary>
    internal (Tensor Keys, Tensor Values) Buffers(int layer) => (keys[layer], values[layer]);

    /// <summary>Called by the model once all layers have appended <paramref name="t"/> positions.</summary>
    public void Advance(long t) => Length += t;

    public void Dispose()
    {
        foreach (var t in keys.Concat(values)) t.Dispose();
    }
}
