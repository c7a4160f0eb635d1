using System.Text.Json;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Modeling;

namespace Microsoft.ML.NEFTune.Tests.MLNet;

/// <summary>An Alpaca record as ML.NET reads it.</summary>
public sealed class InstructionRow
{
    public string Instruction { get; set; } = "";
    public string Input { get; set; } = "";
    public string Output { get; set; } = "";
}

/// <summary>What a prediction engine reads back.</summary>
public sealed class GeneratedRow
{
    public string Generated { get; set; } = "";
    public string GeneratedUpper { get; set; } = "";
}

/// <summary>Fixture records and a tiny Llama model for the ML.NET tests.</summary>
public static class MLNetTestData
{
    /// <summary>The first <paramref name="count"/> records of the Alpaca demo data after <paramref name="skip"/>.</summary>
    public static List<InstructionRow> Records(int count, int skip = 0)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Fixtures.AlpacaDemo));
        return json.RootElement.EnumerateArray().Skip(skip).Take(count).Select(e => new InstructionRow
        {
            Instruction = e.GetProperty("instruction").GetString() ?? "",
            Input = e.GetProperty("input").GetString() ?? "",
            Output = e.GetProperty("output").GetString() ?? "",
        }).ToList();
    }

    /// <summary>
    /// A randomly initialised 2-layer Llama (hidden size 32) over the Llama 2 tokenizer, saved in the Hugging Face layout
    /// with the tokenizer copied in, as <c>neftune init</c> makes it.
    /// </summary>
    public static string CreateTinyModel(string directory, long seed = 1)
    {
        var config = new LlamaConfig
        {
            VocabSize = 32000, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2,
            HeadDim = 8, MaxPositionEmbeddings = 512, RmsNormEps = 1e-5, TieWordEmbeddings = true, BosTokenId = 1, EosTokenIds = new[] { 2 }, PadTokenId = 0,
        };
        using var model = new LlamaForCausalLM(config);
        model.InitializeWeights(seed);
        HuggingFaceCheckpoint.Save(model, directory);
        File.Copy(Fixtures.LlamaTokenizer, Path.Combine(directory, "tokenizer.model"), overwrite: true);
        return directory;
    }

    /// <summary>Settings that keep a fit to a few seconds: 4 optimizer steps over short sequences, 6 new tokens.</summary>
    public static NeftuneInstructionTuningOptions FastOptions(string modelPath) => new()
    {
        ModelPath = modelPath,
        InstructionColumnName = "Instruction",
        InputColumnName = "Input",
        ResponseColumnName = "Output",
        OutputColumnName = "Generated",
        MaxLength = 96,
        BatchSize = 4,
        NumberOfEpochs = 1,
        LearningRate = 1e-3,
        NoiseOffTrainSampleSize = 4,
        MaxNewTokens = 6,
    };
}
