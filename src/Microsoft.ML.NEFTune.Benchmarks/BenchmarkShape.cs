using Microsoft.ML.NEFTune.Modeling;

namespace Microsoft.ML.NEFTune.Benchmarks;

/// <summary>A model shape and the micro-batch (rows × tokens) a training step of the benchmark runs on it.</summary>
public sealed record BenchmarkShape(string Name, LlamaConfig Config, int Batch, int Sequence)
{
    /// <summary>Tokens in one micro-batch.</summary>
    public long TokensPerStep => (long)Batch * Sequence;

    /// <summary>
    /// The llama2.c "stories15M" shape: dim 288, 6 layers, 6 heads, FFN 768, vocabulary 32000, tied output head,
    /// trained on 8 sequences of 256 tokens.
    /// </summary>
    public static BenchmarkShape Stories15M(int batch = 8, int sequence = 256) => new("stories15M", new LlamaConfig
    {
        VocabSize = 32000, HiddenSize = 288, IntermediateSize = 768, NumHiddenLayers = 6, NumAttentionHeads = 6, NumKeyValueHeads = 6,
        HeadDim = 48, MaxPositionEmbeddings = 1024, RmsNormEps = 1e-5, TieWordEmbeddings = true, BosTokenId = 1, EosTokenIds = new[] { 2 },
    }, batch, sequence);

    /// <summary>The llama2.c "stories260K" shape (dim 64, 5 layers, 8 heads over 4 key/value heads, vocabulary 512).</summary>
    public static BenchmarkShape Tiny(int batch = 8, int sequence = 256) => new("tiny", new LlamaConfig
    {
        VocabSize = 512, HiddenSize = 64, IntermediateSize = 172, NumHiddenLayers = 5, NumAttentionHeads = 8, NumKeyValueHeads = 4,
        HeadDim = 8, MaxPositionEmbeddings = 1024, RmsNormEps = 1e-5, TieWordEmbeddings = true, BosTokenId = 1, EosTokenIds = new[] { 2 },
    }, batch, sequence);

    /// <summary>Parameters of the model (the tied head counted once).</summary>
    public long ParameterCount
    {
        get
        {
            var c = Config;
            long attention = (long)c.HiddenSize * c.NumAttentionHeads * c.HeadDim * 2 + 2L * c.HiddenSize * c.KeyValueDim;
            long mlp = 3L * c.HiddenSize * c.IntermediateSize;
            long layer = attention + mlp + 2L * c.HiddenSize;
            long head = c.TieWordEmbeddings ? 0 : (long)c.VocabSize * c.HiddenSize;
            return (long)c.VocabSize * c.HiddenSize + c.NumHiddenLayers * layer + c.HiddenSize + head;
        }
    }

    /// <summary>Training FLOPs per token counted as 6·N (forward 2·N, backward 4·N; attention scores not counted).</summary>
    public double TrainingFlopsPerToken => 6.0 * ParameterCount;
}
