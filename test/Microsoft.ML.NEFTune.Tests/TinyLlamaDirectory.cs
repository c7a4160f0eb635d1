using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Modeling;

namespace Microsoft.ML.NEFTune.Tests;

/// <summary>A tiny random Llama with the Llama 2 tokenizer saved in HF layout, and a small Alpaca subset, in a temp folder.</summary>
public sealed class TinyLlamaDirectory : IDisposable
{
    private readonly TempDirectory temp = new();

    public TinyLlamaDirectory(int records = 24, long seed = 1)
    {
        var config = new LlamaConfig
        {
            VocabSize = 32000, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 8,
            MaxPositionEmbeddings = 512, RmsNormEps = 1e-5, TieWordEmbeddings = true, BosTokenId = 1, EosTokenIds = new[] { 2 }, PadTokenId = 0,
        };
        using var model = new LlamaForCausalLM(config);
        model.InitializeWeights(seed);
        HuggingFaceCheckpoint.Save(model, ModelPath);
        File.Copy(Fixtures.LlamaTokenizer, Path.Combine(ModelPath, "tokenizer.model"));
        var all = JsonNode.Parse(File.ReadAllText(Fixtures.AlpacaDemo))!.AsArray();
        File.WriteAllText(DataPath, new JsonArray(all.Take(records).Select(r => r!.DeepClone()).ToArray()).ToJsonString());
    }

    public string Root => temp.Path;
    public string ModelPath => temp["model"];
    public string DataPath => temp["alpaca.json"];
    public string this[string name] => temp[name];

    public void Dispose() => temp.Dispose();
}
