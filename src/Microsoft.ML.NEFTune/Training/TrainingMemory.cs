using Microsoft.ML.NEFTune.Modeling;

namespace Microsoft.ML.NEFTune.Training;

/// <summary>
/// The memory full fine-tuning needs, estimated before anything is allocated: float32 weights, their gradients and
/// AdamW's two moments (4 + 4 + 8 bytes per parameter), the bfloat16 compute copy and its gradients when bfloat16
/// is on (2 + 2), and the activations autograd keeps for backward. Per token and decoder layer the activation
/// estimate counts the tensors a Llama block saves: about 12 hidden-size vectors (norm inputs and outputs, q/k/v,
/// rotary outputs, attention output, residuals), 5 feed-forward-size vectors (gate, up, SiLU, product, its input to
/// down) and 2·heads·T attention weights, in the compute dtype; with gradient checkpointing one hidden vector per
/// layer plus one whole layer. The output head's logits are chunked (<see cref="LinearCrossEntropy"/>) and not counted.
/// </summary>
public sealed record TrainingMemory
{
    /// <summary>Float32 weights.</summary>
    public long WeightBytes { get; init; }

    /// <summary>Float32 gradients.</summary>
    public long GradientBytes { get; init; }

    /// <summary>AdamW's first and second moments (float32).</summary>
    public long OptimizerBytes { get; init; }

    /// <summary>The bfloat16 compute copy and its gradients (0 without bfloat16).</summary>
    public long BFloat16CopyBytes { get; init; }

    /// <summary>Activations kept for backward over one micro-batch.</summary>
    public long ActivationBytes { get; init; }

    /// <summary>Everything above.</summary>
    public long TotalBytes => WeightBytes + GradientBytes + OptimizerBytes + BFloat16CopyBytes + ActivationBytes;

    /// <summary>The estimate for full fine-tuning of a model of <paramref name="config"/> with <paramref name="parameters"/> parameters.</summary>
    /// <param name="config">The model's shape.</param>
    /// <param name="parameters">Its parameter count (tied weights once).</param>
    /// <param name="batchSize">Sequences per micro-batch.</param>
    /// <param name="sequenceLength">Tokens per sequence (the longest a batch may hold).</param>
    /// <param name="bfloat16">Whether forward and backward run in bfloat16.</param>
    /// <param name="gradientCheckpointing">Whether decoder layers are recomputed in backward.</param>
    public static TrainingMemory ForFullFineTuning(LlamaConfig config, long parameters, int batchSize, int sequenceLength, bool bfloat16, bool gradientCheckpointing)
    {
        ArgumentNullException.ThrowIfNull(config);
        long tokens = (long)batchSize * sequenceLength;
        long C = config.HiddenSize, I = config.IntermediateSize, heads = config.NumAttentionHeads;
        long perTokenLayer = 12 * C + 5 * I + 2 * heads * sequenceLength;        // values kept per token and layer
        long bytesPerValue = bfloat16 ? 2 : 4;
        long layers = config.NumHiddenLayers;
        long activations = gradientCheckpointing
            ? tokens * bytesPerValue * (layers * C + perTokenLayer)
            : tokens * bytesPerValue * layers * perTokenLayer;
        return new TrainingMemory
        {
            WeightBytes = 4 * parameters,
            GradientBytes = 4 * parameters,
            OptimizerBytes = 8 * parameters,
            BFloat16CopyBytes = bfloat16 ? 4 * parameters : 0,
            ActivationBytes = activations,
        };
    }

    /// <summary>Memory the system can still give this process (<c>MemAvailable</c> of <c>/proc/meminfo</c>), or null where unknown.</summary>
    public static long? AvailableBytes()
    {
        try
        {
            if (!OperatingSystem.IsLinux() || !File.Exists("/proc/meminfo")) return null;
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }
        catch (IOException) { }
        catch (FormatException) { }
        return null;
    }

    /// <summary>
    /// Throws <see cref="InsufficientMemoryException"/> naming the estimate when it does not fit:
    /// what still has to be allocated (everything but the already loaded weights, <paramref name="residentBytes"/>)
    /// exceeds <paramref name="availableBytes"/>.
    /// </summary>
    public void EnsureFits(long availableBytes, long residentBytes, long parameters)
    {
        long needed = TotalBytes - Math.Min(residentBytes, WeightBytes);
        if (needed <= availableBytes) return;
        throw new InsufficientMemoryException(
            $"full fine-tuning of this {parameters / 1e9:0.##}B-parameter model needs about {Gb(TotalBytes)} GB " +
            $"(weights {Gb(WeightBytes)}, gradients {Gb(GradientBytes)}, AdamW state {Gb(OptimizerBytes)}" +
            (BFloat16CopyBytes > 0 ? $", bfloat16 copy {Gb(BFloat16CopyBytes)}" : "") +
            $", activations {Gb(ActivationBytes)} GB) but only {Gb(availableBytes)} GB more is available; " +
            "train LoRA adapters instead (--lora-rank 8, with --quantize-base nf4 for the least memory), enable gradient checkpointing, " +
            "lower the batch size, or use a machine with more memory (a GPU with enough memory for the full fine-tuning)");
    }

    private static string Gb(long bytes) => (bytes / 1e9).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);
}
