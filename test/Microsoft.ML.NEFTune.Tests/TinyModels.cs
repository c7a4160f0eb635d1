using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Modeling;

namespace Microsoft.ML.NEFTune.Tests;

/// <summary>Small randomly initialised models and synthetic token data for fast tests.</summary>
public static class TinyModels
{
    public static LlamaConfig Config(int vocab = 64, bool tied = true) => new()
    {
        VocabSize = vocab, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2,
        HeadDim = 8, MaxPositionEmbeddings = 128, RmsNormEps = 1e-5, TieWordEmbeddings = tied, BosTokenId = 1, EosTokenIds = new[] { 2 },
    };

    public static LlamaForCausalLM Create(long seed = 1, int vocab = 64, bool tied = true)
    {
        var model = new LlamaForCausalLM(Config(vocab, tied));
        model.InitializeWeights(seed);
        return model;
    }

    /// <summary>Examples "BOS prompt response EOS" with a learnable pattern (each response token is the previous token + 1); labels on the response only.</summary>
    public static IReadOnlyList<TokenizedExample> PatternExamples(int count, int seed = 0, int vocab = 64)
    {
        var rng = new Random(seed);
        var list = new List<TokenizedExample>();
        for (int i = 0; i < count; i++)
        {
            int promptLength = 3 + rng.Next(6);
            var prompt = Enumerable.Range(0, promptLength).Select(_ => 3 + rng.Next(vocab - 4)).ToArray();
            var response = new int[2 + rng.Next(6)];
            for (int j = 0, previous = prompt[^1]; j < response.Length; j++) previous = response[j] = 3 + (previous - 3 + 1) % (vocab - 3);
            var ids = new[] { 1 }.Concat(prompt).Concat(response).Append(2).ToArray();
            var labels = Enumerable.Repeat(-100, 1 + promptLength).Concat(response).Append(2).ToArray();
            list.Add(new TokenizedExample(ids, labels));
        }
        return list;
    }
}
