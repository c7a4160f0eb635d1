using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Data;

/// <summary>Right-padded (B, T) ids and labels; sequence ids mark padding (0) and packed examples (1..k).</summary>
public sealed class Batch
{
    public required long[] InputIds { get; init; }
    public required long[] Labels { get; init; }
    public long[]? SequenceIds { get; init; }
    public int Rows { get; init; }
    public int Length { get; init; }

    /// <summary>Positions that contribute to the loss after the model's one-position shift.</summary>
    public long LabelledTokens { get; init; }

    /// <summary>Real (non-padding) tokens.</summary>
    public long TotalTokens { get; init; }

    public static Batch Collate(IReadOnlyList<TokenizedExample> examples, int padId)
    {
        int rows = examples.Count, length = examples.Max(e => e.InputIds.Length);
        var ids = new long[rows * length];
        var labels = new long[rows * length];
        var seq = new long[rows * length];
        Array.Fill(ids, padId);
        Array.Fill(labels, -100L);
        long labelled = 0, total = 0;
        for (int r = 0; r < rows; r++)
        {
            var e = examples[r];
            for (int t = 0; t < e.InputIds.Length; t++)
            {
                ids[r * length + t] = e.InputIds[t];
                labels[r * length + t] = e.Labels[t];
                seq[r * length + t] = 1;
                if (t > 0 && e.Labels[t] != -100) labelled++;
            }
            total += e.InputIds.Length;
        }
        return new Batch
        {
            InputIds = ids, Labels = labels, SequenceIds = total == (long)rows * length ? null : seq,
            Rows = rows, Length = length, LabelledTokens = labelled, TotalTokens = total,
        };
    }

    public (Tensor InputIds, Tensor Labels, Tensor? SequenceIds) ToTensors(Device device) =>
        (tensor(InputIds, new long[] { Rows, Length }, device: device),
         tensor(Labels, new long[] { Rows, Length }, device: device),
         SequenceIds is null ? null : tensor(SequenceIds, new long[] { Rows, Length }, device: device));
}
