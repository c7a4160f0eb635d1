using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>
/// A change to the input embeddings that a model applies in training mode only, between the token embedding and the
/// decoder stack (e.g. NEFTune noise). It holds no parameters, so attaching one changes no state-dict key. A model
/// holds at most one (<see cref="DecoderModel.EmbeddingTransform"/>).
/// </summary>
public interface IEmbeddingTransform
{
    /// <summary>What the transform is, with its settings, for error messages (e.g. <c>NEFTune noise (uniform, alpha 5, per-sequence)</c>).</summary>
    string Description { get; }

    /// <summary>The transformed embeddings.</summary>
    /// <param name="embeddings">(B, T, C) token embeddings.</param>
    /// <param name="sequenceIds">(B, T) with 0 = padding and k &gt; 0 = the k-th sequence packed in the row; null = every position is a real token of one sequence.</param>
    /// <returns>(B, T, C), in the dtype of <paramref name="embeddings"/>.</returns>
    Tensor Apply(Tensor embeddings, Tensor? sequenceIds);
}
