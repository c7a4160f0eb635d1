using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>
/// Summed cross-entropy of a linear output head, <c>Σᵢ logsumexp(hᵢ Wᵀ) − hᵢ·w_{yᵢ}</c>, without ever holding the
/// (N, V) logits. Rows go through the head in chunks of about <see cref="LogitsPerChunk"/> logits; each chunk's
/// logits become, in place, their gradient <c>softmax − onehot(y)</c>, from which the chunk's share of
/// <c>∂L/∂h = G W</c> and <c>∂L/∂W = Gᵀ h</c> is formed at once. The returned scalar equals the loss and carries
/// exactly those gradients back into the graph (through <c>Σ h ⊙ ∂L/∂h</c> and <c>Σ W ⊙ ∂L/∂W</c>, whose values
/// are subtracted again). The matrix products are the three an autograd head would run; what is saved is the
/// memory of the logits, their log-softmax and their gradient (about 0.8 GB for 2048 rows of a 32000 vocabulary).
/// On the CPU a float32 or bfloat16 chunk's loss and gradient come from one managed pass (<see cref="CrossEntropyRows"/>);
/// float64 and other devices use the tensor operations.
/// </summary>
public static class LinearCrossEntropy
{
    /// <summary>
    /// Logits per chunk (2²⁴, 64 MB in float32: 524 rows of a 32000 vocabulary). Thinner chunks make thinner products:
    /// on a 2-core Zen 5 VM the stories15M head and loss (2048 × 288 by 32000, forward and backward) took 958–962 ms
    /// with 2²² logits per chunk against 804–853 ms with 2²⁴.
    /// </summary>
    public const long LogitsPerChunk = 1L << 24;

    /// <param name="hidden">(N, C) hidden states of the labelled positions.</param>
    /// <param name="weight">(V, C) head weight (the embedding matrix when tied).</param>
    /// <param name="targets">(N) next-token ids, every one in [0, V): ignored positions are left out beforehand.</param>
    /// <param name="logitsPerChunk">Logits held at once; rows per chunk = this ÷ V (at least 1).</param>
    /// <returns>The scalar sum of the N cross-entropies, in float32 (float64 for float64 inputs).</returns>
    public static Tensor Sum(Tensor hidden, Tensor weight, Tensor targets, long logitsPerChunk = LogitsPerChunk)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(logitsPerChunk, 1, nameof(logitsPerChunk));
        using var scope = NewDisposeScope();
        long N = hidden.shape[0], V = weight.shape[0];
        long rows = Math.Max(1, logitsPerChunk / V);
        bool gradH = hidden.requires_grad, gradW = weight.requires_grad;
        var exact = hidden.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;   // softmax precision
        var loss = zeros(Array.Empty<long>(), exact, hidden.device);
        Tensor? dh = null, dw = null;
        using (no_grad())
        {
            if (gradH) dh = empty_like(hidden);                                              // (N, C)
            if (gradW) dw = zeros(weight.shape, exact, weight.device);                        // (V, C)
            for (long start = 0; start < N; start += rows)
            {
                using var chunk = NewDisposeScope();
                long n = Math.Min(rows, N - start);
                var h = hidden.narrow(0, start, n);                                          // (n, C)
                var y = targets.narrow(0, start, n);                                          // (n)
                var z = h.matmul(weight.t());                                                 // (n, V)
                Tensor g;
                if (CrossEntropyRows.Applies(z))
                {
                    loss.add_(CrossEntropyRows.Apply(z, y, gradient: gradH || gradW));
                    if (!gradH && !gradW) continue;
                    g = z;                                                                    // softmax − onehot, in place
                }
                else
                {
                    z = z.to_type(exact);
                    var lse = z.logsumexp(1, keepdim: true);                                  // (n, 1)
                    var column = y.unsqueeze(1);                                              // (n, 1)
                    loss.add_((lse - z.gather(1, column)).sum());
                    if (!gradH && !gradW) continue;
                    g = z.sub_(lse).exp_().scatter_add_(1, column, full(n, 1, -1.0, exact, z.device)).to_type(hidden.dtype);   // softmax − onehot
                }
                if (gradH) dh!.narrow(0, start, n).copy_(g.matmul(weight));                   // (n, C)
                if (gradW) dw!.add_(g.t().matmul(h));                                         // (V, C)
            }
        }
        var result = loss;
        if (gradH) result = result + Carry(hidden, dh!);
        if (gradW) result = result + Carry(weight, dw!.to_type(weight.dtype));
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>A zero whose gradient with respect to <paramref name="x"/> is <paramref name="gradient"/>.</summary>
    private static Tensor Carry(Tensor x, Tensor gradient)
    {
        var link = (x * gradient).sum();
        return link - link.detach();
    }
}
