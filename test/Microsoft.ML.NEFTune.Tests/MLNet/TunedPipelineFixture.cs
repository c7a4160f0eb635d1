using Microsoft.ML.Data;

namespace Microsoft.ML.NEFTune.Tests.MLNet;

/// <summary>
/// One pipeline fitted once for the whole test class, as the issue writes it: NormalizeText before, NEFTune instruction
/// tuning, and a text transform of the generated column after.
/// </summary>
public sealed class TunedPipelineFixture : IDisposable
{
    public TunedPipelineFixture()
    {
        ModelDirectory = MLNetTestData.CreateTinyModel(Temp["base-model"]);
        Context = new MLContext(seed: 1);
        Context.Log += (_, e) => { lock (LogMessages) LogMessages.Add(e.Message); };
        Train = Context.Data.LoadFromEnumerable(MLNetTestData.Records(16));
        Validation = Context.Data.LoadFromEnumerable(MLNetTestData.Records(4, skip: 16));
        Test = Context.Data.LoadFromEnumerable(MLNetTestData.Records(3, skip: 20));
        var options = MLNetTestData.FastOptions(ModelDirectory);
        options.ValidationSet = Validation;
        Pipeline = Context.Transforms.Text.NormalizeText("Instruction")
            .Append(Context.Neftune().InstructionTuning(options))
            .Append(Context.Transforms.Text.NormalizeText("GeneratedUpper", "Generated", Microsoft.ML.Transforms.Text.TextNormalizingEstimator.CaseMode.Upper));
        var chain = Pipeline.Fit(Train);
        Model = chain;
        Tuned = ((IEnumerable<ITransformer>)chain).OfType<NeftuneInstructionTuningTransformer>().Single();
    }

    public TempDirectory Temp { get; } = new();
    public string ModelDirectory { get; }
    public MLContext Context { get; }
    public List<string> LogMessages { get; } = new();
    public IDataView Train { get; }
    public IDataView Validation { get; }
    public IDataView Test { get; }
    public IEstimator<ITransformer> Pipeline { get; }
    public ITransformer Model { get; }
    public NeftuneInstructionTuningTransformer Tuned { get; }

    /// <summary>The test rows' instructions after the pipeline's NormalizeText step, with their inputs.</summary>
    public List<(string Instruction, string? Input)> NormalizedTestPrompts()
    {
        var normalized = Context.Transforms.Text.NormalizeText("Instruction").Fit(Test).Transform(Test);
        return Context.Data.CreateEnumerable<InstructionRow>(normalized, reuseRowObject: false)
            .Select(r => (r.Instruction, string.IsNullOrEmpty(r.Input) ? null : (string?)r.Input)).ToList();
    }

    public void Dispose()
    {
        (Model as IDisposable)?.Dispose();
        Temp.Dispose();
    }
}
