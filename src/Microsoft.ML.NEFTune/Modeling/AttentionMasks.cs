using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>
/// Position ids and attention masks from per-position sequence ids (0 = padding, k &gt; 0 = k-th sequence of a
/// packed row). Positions restart at 0 for each sequence; a token attends to earlier tokens of its own sequence and,
/// with a sliding window W, only to the last W of them (itself included), as Hugging Face Mistral and Phi-3 do.
/// </summary>
public static class AttentionMasks
{
    /// <summary>(B, T) positions of the last T of the S = past + T positions.</summary>
    public static Tensor Positions(long B, long T, Tensor? sequenceIds, long past, Device device)
    {
        if (sequenceIds is null)
            return arange(past, past + T, dtype: ScalarType.Int64, device: device).unsqueeze(0).expand(B, T);
        using var scope = NewDisposeScope();
        long S = sequenceIds.shape[1];
        var index = arange(S, dtype: ScalarType.Int64, device: sequenceIds.device).unsqueeze(0).expand(sequenceIds.shape[0], S); // (B, S)
        var previous = cat(new[] { full(sequenceIds.shape[0], 1, -1L, ScalarType.Int64, sequenceIds.device), sequenceIds.narrow(1, 0, S - 1) }, 1);
        var starts = where(sequenceIds.ne(previous), index, zeros_like(index)).cummax(1).values;  // (B, S) start of each position's sequence
        return (index - starts).narrow(1, past, T).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Boolean (B, 1, T, S) mask, true = may attend; null when plain causal attention is exact. Query t (at index
    /// past + t of the row) may attend key j when j ≤ past + t, j &gt; past + t − <paramref name="slidingWindow"/>
    /// (if any), and both belong to the same sequence.
    /// </summary>
    public static Tensor? Build(Tensor? sequenceIds, long T, long past, Device device, int? slidingWindow = null)
    {
        bool windowed = slidingWindow is int w && past + T > w;   // the window cuts off some key
        if (sequenceIds is null && past == 0 && !windowed) return null;
        using var scope = NewDisposeScope();
        var q = arange(past, past + T, dtype: ScalarType.Int64, device: device).unsqueeze(-1);   // (T, 1)
        var k = arange(past + T, dtype: ScalarType.Int64, device: device).unsqueeze(0);            // (1, S)
        var causal = k.le(q);                                                                      // (T, S) bottom-right aligned
        if (windowed) causal = causal.logical_and(k.gt(q - slidingWindow!.Value));                 // i − W < j ≤ i
        if (sequenceIds is null) return causal.unsqueeze(0).unsqueeze(0).MoveToOuterDisposeScope();  // (1, 1, T, S)
        var querySeq = sequenceIds.narrow(1, past, T).unsqueeze(-1);                               // (B, T, 1)
        var keySeq = sequenceIds.unsqueeze(1);                                                     // (B, 1, S)
        var same = querySeq.eq(keySeq).logical_and(keySeq.ne(0L));                                 // (B, T, S)
        var self = k.eq(q);                                                                        // padding rows attend to themselves, never to nothing
        return same.logical_and(causal).logical_or(self).unsqueeze(1).MoveToOuterDisposeScope();   // (B, 1, T, S)
    }
}
