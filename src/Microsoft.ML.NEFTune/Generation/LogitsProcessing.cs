using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Generation;

/// <summary>The per-step transforms of next-token logits (B, V) and the choice of the next token.</summary>
internal static class LogitsProcessing
{
    /// <summary>HF repetition penalty on the tokens marked in <paramref name="seen"/> (B, V) bool.</summary>
    public static Tensor PenalizeRepeats(Tensor logits, Tensor seen, double penalty)
    {
        if (penalty == 1.0) return logits.alias();
        using var penalized = where(logits.lt(0), logits * penalty, logits / penalty);
        return where(seen, penalized, logits);
    }

    public static Tensor TopK(Tensor logits, int k)
    {
        if (k <= 0 || k >= logits.shape[1]) return logits.alias();
        using var kth = logits.topk(k, dim: 1).values.narrow(1, k - 1, 1);          // (B, 1)
        return logits.masked_fill(logits.lt(kth), double.NegativeInfinity);
    }

    public static Tensor TopP(Tensor logits, double p)
    {
        if (p >= 1.0) return logits.alias();
        using var scope = NewDisposeScope();
        var (sorted, order) = logits.sort(dim: 1, descending: true);
        var probs = sorted.softmax(1);
        var before = probs.cumsum(1) - probs;                                          // mass strictly before each token
        var drop = before.gt(p);                                                       // the top token is always kept
        var dropInOriginalOrder = zeros_like(drop).scatter(1, order, drop);
        return logits.masked_fill(dropInOriginalOrder, double.NegativeInfinity).MoveToOuterDisposeScope();
    }

    /// <summary>Next token ids (B) from processed logits.</summary>
    public static Tensor Choose(Tensor logits, GenerationOptions options, Generator generator)
    {
        using var scope = NewDisposeScope();
        if (options.Temperature == 0) return logits.argmax(1).MoveToOuterDisposeScope();
        var scaled = TopP(TopK(logits / options.Temperature, options.TopK), options.TopP);
        return scaled.softmax(1).multinomial(1, generator: generator).squeeze(1).MoveToOuterDisposeScope();
    }
}
