using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.NEFTune;
using Microsoft.ML.Runtime;
using Microsoft.ML.Transforms.Text;

/// <summary>An Alpaca record: the instruction, an optional input, and the response to learn.</summary>
public class Record
{
    public string Instruction { get; set; } = "";
    public string Input { get; set; } = "";
    public string Output { get; set; } = "";
}

/// <summary>What the sample reads back from the pipeline.</summary>
public class Answer
{
    public string Instruction { get; set; } = "";
    public string Generated { get; set; } = "";
}

public static class NeftuneSample
{
    /// <summary>Fits the pipeline, prints answers three ways, saves and reloads it; true when the reloaded pipeline gives the same answers.</summary>
    public static bool Run(string modelPath, string dataPath, int trainRows, int maxSteps, int maxLength, int maxNewTokens, string modelFile, TextWriter output)
    {
        var records = JsonSerializer.Deserialize<List<Dictionary<string, string>>>(File.ReadAllText(dataPath))!
            .Select(r => new Record { Instruction = r["instruction"], Input = r.GetValueOrDefault("input") ?? "", Output = r["output"] })
            .ToList();

        var mlContext = new MLContext(seed: 1);
        mlContext.Log += (_, e) =>
        {
            if (e.Kind == ChannelMessageKind.Info && e.Source.StartsWith(nameof(NeftuneInstructionTuningEstimator), StringComparison.Ordinal))
                output.WriteLine(e.Message);
        };
        IDataView train = mlContext.Data.LoadFromEnumerable(records.Take(trainRows));
        IDataView test = mlContext.Data.LoadFromEnumerable(records.Skip(trainRows).Take(3));

        // ML.NET transforms before and after the NEFTune step.
        var pipeline = mlContext.Transforms.Text.NormalizeText("Instruction", caseMode: TextNormalizingEstimator.CaseMode.None)
            .Append(mlContext.Neftune().InstructionTuning(new NeftuneInstructionTuningOptions
            {
                ModelPath = modelPath,
                InstructionColumnName = "Instruction",
                InputColumnName = "Input",
                ResponseColumnName = "Output",
                OutputColumnName = "Generated",
                NoiseAlpha = 5,
                MaxSteps = maxSteps,
                BatchSize = 4,
                MaxLength = maxLength,
                LearningRate = 2e-5,
                MaxNewTokens = maxNewTokens,
            }))
            .Append(mlContext.Transforms.Text.TokenizeIntoWords("GeneratedWords", "Generated"));

        using var model = pipeline.Fit(train);

        // 1. Transform: lazy, the answers are generated as the cursor reads the Generated column.
        var scored = model.Transform(test);
        var answers = mlContext.Data.CreateEnumerable<Answer>(scored, reuseRowObject: false).ToList();
        foreach (var answer in answers)
            output.WriteLine($"### {answer.Instruction}\n{answer.Generated}\n");

        // 2. A prediction engine, one row at a time.
        var engine = mlContext.Model.CreatePredictionEngine<Record, Answer>(model);
        output.WriteLine(engine.Predict(new Record { Instruction = "Give three tips for staying healthy." }).Generated);

        // 3. The tuned transformer directly.
        var tuned = model.OfType<NeftuneInstructionTuningTransformer>().Single();
        output.WriteLine(tuned.Generate("Translate to French.", "Good morning"));

        // Saving: MLContext.Model.Save cannot hold the weights and says what to use instead.
        try
        {
            using var stream = new MemoryStream();
            mlContext.Model.Save(model, train.Schema, stream);
        }
        catch (Exception e) when (e is NotSupportedException or InvalidOperationException)
        {
            output.WriteLine($"MLContext.Model.Save: {e.Message}");
        }

        NeftuneModel.Save(mlContext, model, train.Schema, modelFile);
        var loaded = NeftuneModel.Load(mlContext, modelFile, out _);
        try
        {
            var reloaded = mlContext.Data.CreateEnumerable<Answer>(loaded.Transform(test), reuseRowObject: false).Select(a => a.Generated);
            bool same = reloaded.SequenceEqual(answers.Select(a => a.Generated));
            output.WriteLine($"saved {modelFile} ({new FileInfo(modelFile).Length / 1e6:F1} MB); the reloaded pipeline gives the same answers: {same}");
            return same;
        }
        finally
        {
            (loaded as IDisposable)?.Dispose();
        }
    }
}
