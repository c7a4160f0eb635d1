using System.Reflection;
using Microsoft.ML.Data;
using Microsoft.ML.NEFTune.Generation;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.IO.Tokenizers;

namespace Microsoft.ML.NEFTune.Tests.MLNet;

public sealed class FitTests : IDisposable
{
    private const long TrainingOptionsDefaultSeed = Microsoft.ML.NEFTune.Training.TrainingOptions.DefaultSeed;
    private readonly TempDirectory temp = new();
    private readonly string modelDirectory;

    public FitTests() => modelDirectory = MLNetTestData.CreateTinyModel(temp["model"], seed: 3);

    public void Dispose() => temp.Dispose();

    [Fact]
    public void GenerationAfterANoisyFitAddsNoNoise()
    {
        var ml = new MLContext(seed: 1);
        var options = MLNetTestData.FastOptions(modelDirectory);
        options.NoiseAlpha = 50;
        options.LearningRate = 1e-12;
        options.MaxSteps = 1;
        var rows = MLNetTestData.Records(4);
        using var tuned = ml.Neftune().InstructionTuning(options).Fit(ml.Data.LoadFromEnumerable(rows));

        Assert.Equal(1, tuned.TrainingResult!.Steps);
        Assert.Null(tuned.Model.Model.EmbeddingTransform);
        Assert.False(tuned.Model.training);

        // With a learning rate of 1e-12 the weights stay the base model's; noise of this size on the embeddings changes the
        // greedy tokens of this model, so the texts match only if generation runs without it.
        using var baseModel = HuggingFaceCheckpoint.Load(modelDirectory);
        var tokenizer = TextTokenizer.Load(modelDirectory);
        var generator = new TextGenerator(baseModel, tokenizer);
        foreach (var row in rows.Take(2))
        {
            var clean = generator.Generate(tuned.RenderPrompt(row.Instruction, row.Input), tuned.GenerationOptions);
            Assert.Equal(clean, tuned.Generate(row.Instruction, row.Input));
        }
    }

    [Fact]
    public void FitIsSeededByTheOptionsSeedAloneAsEveryFrontEndIs()
    {
        string Run(int contextSeed, long? seed = null)
        {
            var ml = new MLContext(contextSeed);
            var options = MLNetTestData.FastOptions(modelDirectory);
            if (seed is long s) options.Seed = s;
            options.MaxSteps = 1;
            options.BatchSize = 2;
            options.MaxLength = 64;
            options.NoiseOffTrainSampleSize = 0;
            using var tuned = ml.Neftune().InstructionTuning(options).Fit(ml.Data.LoadFromEnumerable(MLNetTestData.Records(4)));
            return string.Join("|", tuned.TrainingResult!.History.Select(h => h.TrainLoss));
        }

        Assert.Equal(Run(1), Run(2));                                          // the context's random source plays no part
        Assert.Equal(Run(1), Run(1, TrainingOptionsDefaultSeed));
        Assert.NotEqual(Run(1), Run(1, TrainingOptionsDefaultSeed + 1));
    }

    private static void CancelExecution(MLContext ml) =>
        typeof(MLContext).GetMethod("CancelExecution", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)!.Invoke(ml, null);

    private NeftuneInstructionTuningOptions LongRun()
    {
        var options = MLNetTestData.FastOptions(modelDirectory);
        options.MaxSteps = 10_000;          // only cancellation ends this run in time
        options.BatchSize = 1;
        return options;
    }

    [Fact]
    public void FitStopsRightAfterTheStepDuringWhichTheContextWasCancelled()
    {
        var ml = new MLContext(seed: 1);
        // The log event is raised on the training thread while step 2 is being reported; the trainer checks the context
        // right after, so no third step may start.
        ml.Log += (_, e) => { if (e.RawMessage.StartsWith("step 2/", StringComparison.Ordinal)) CancelExecution(ml); };

        var error = Assert.ThrowsAny<OperationCanceledException>(() => ml.Neftune().InstructionTuning(LongRun()).Fit(ml.Data.LoadFromEnumerable(MLNetTestData.Records(4))));
        Assert.Contains("cancelled after 2 optimizer steps", error.Message);
    }

    [Fact]
    public void FitStopsRightAfterTheStepDuringWhichTheTokenWasCancelled()
    {
        var ml = new MLContext(seed: 1);
        using var cancel = new CancellationTokenSource();
        ml.Log += (_, e) => { if (e.RawMessage.StartsWith("step 3/", StringComparison.Ordinal)) cancel.Cancel(); };

        var error = Assert.ThrowsAny<OperationCanceledException>(() => ml.Neftune().InstructionTuning(LongRun()).Fit(ml.Data.LoadFromEnumerable(MLNetTestData.Records(4)), cancel.Token));
        Assert.Contains("cancelled after 3 optimizer steps", error.Message);
    }

    [Fact]
    public void FitOnAnAlreadyCancelledContextTrainsNoStep()
    {
        var ml = new MLContext(seed: 1);
        int steps = 0;
        ml.Log += (_, e) => { if (e.RawMessage.StartsWith("step ", StringComparison.Ordinal)) steps++; };
        CancelExecution(ml);

        Assert.ThrowsAny<OperationCanceledException>(() => ml.Neftune().InstructionTuning(LongRun()).Fit(ml.Data.LoadFromEnumerable(MLNetTestData.Records(4))));
        Assert.Equal(0, steps);
    }

    [Fact]
    public void FitWithAnAlreadyCancelledTokenTrainsNoStep()
    {
        var ml = new MLContext(seed: 1);
        int steps = 0;
        ml.Log += (_, e) => { if (e.RawMessage.StartsWith("step ", StringComparison.Ordinal)) steps++; };
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.ThrowsAny<OperationCanceledException>(() => ml.Neftune().InstructionTuning(LongRun()).Fit(ml.Data.LoadFromEnumerable(MLNetTestData.Records(4)), cancelled.Token));
        Assert.Equal(0, steps);
    }

    public sealed class NoInstruction { public string Input { get; set; } = ""; public string Output { get; set; } = ""; }
    public sealed class NumericInstruction { public float Instruction { get; set; } public string Input { get; set; } = ""; public string Output { get; set; } = ""; }
    public sealed class NoResponse { public string Instruction { get; set; } = ""; public string Input { get; set; } = ""; }
    public sealed class NoInput { public string Instruction { get; set; } = ""; public string Output { get; set; } = ""; }
    public sealed class Nothing { }

    public static TheoryData<string, string, string> SchemaErrors => new()
    {
        { nameof(NoInstruction), "'Instruction'", "InstructionColumnName" },
        { nameof(NumericInstruction), "'Instruction'", "Single" },
        { nameof(NoResponse), "'Output'", "ResponseColumnName" },
        { nameof(NoInput), "'Input'", "InputColumnName" },
    };

    private static IDataView Empty(MLContext ml, string kind) => kind switch
    {
        nameof(NoInstruction) => ml.Data.LoadFromEnumerable(new[] { new NoInstruction() }),
        nameof(NumericInstruction) => ml.Data.LoadFromEnumerable(new[] { new NumericInstruction() }),
        nameof(NoResponse) => ml.Data.LoadFromEnumerable(new[] { new NoResponse() }),
        _ => ml.Data.LoadFromEnumerable(new[] { new NoInput() }),
    };

    private static SchemaShape Shape(MLContext ml, string kind) => kind switch
    {
        nameof(NoInstruction) => ShapeOf<NoInstruction>(ml),
        nameof(NumericInstruction) => ShapeOf<NumericInstruction>(ml),
        nameof(NoResponse) => ShapeOf<NoResponse>(ml),
        _ => ShapeOf<NoInput>(ml),
    };

    private static SchemaShape ShapeOf<T>(MLContext ml) where T : class, new() =>
        ml.Transforms.CustomMapping<Nothing, T>((_, _) => { }, contractName: null).GetOutputSchema(new SchemaShape(Array.Empty<SchemaShape.Column>()));

    [Theory]
    [MemberData(nameof(SchemaErrors))]
    public void FitNamesTheBadColumnBeforeLoadingAnything(string kind, string column, string detail)
    {
        var ml = new MLContext(seed: 1);
        var options = MLNetTestData.FastOptions(Path.Combine(temp.Path, "no-such-model"));
        var pipeline = ml.Transforms.CopyColumns("Copy", kind == nameof(NoInstruction) ? "Input" : "Instruction")
            .Append(ml.Neftune().InstructionTuning(options));

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => pipeline.Fit(Empty(ml, kind)));
        Assert.Contains(column, error.Message);
        Assert.Contains(detail, error.Message);
    }

    [Theory]
    [MemberData(nameof(SchemaErrors))]
    public void GetOutputSchemaNamesTheBadColumn(string kind, string column, string detail)
    {
        var ml = new MLContext(seed: 1);
        var estimator = ml.Neftune().InstructionTuning(MLNetTestData.FastOptions(modelDirectory));

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.GetOutputSchema(Shape(ml, kind)));
        Assert.Contains(column, error.Message);
        Assert.Contains(detail, error.Message);
    }

    [Fact]
    public void GetOutputSchemaAddsTheGeneratedTextColumn()
    {
        var ml = new MLContext(seed: 1);
        var estimator = ml.Neftune().InstructionTuning(MLNetTestData.FastOptions(modelDirectory));

        var shape = estimator.GetOutputSchema(ShapeOf<InstructionRow>(ml));

        var generated = Assert.Single(shape, c => c.Name == "Generated");
        Assert.Equal(TextDataViewType.Instance, generated.ItemType);
        Assert.Equal(SchemaShape.Column.VectorKind.Scalar, generated.Kind);
        Assert.Equal(new[] { "Generated", "Input", "Instruction", "Output" }, shape.Select(c => c.Name).Order());
    }

    [Fact]
    public void TransformNamesAMissingColumnButNeedsNoResponse()
    {
        var ml = new MLContext(seed: 1);
        var options = MLNetTestData.FastOptions(modelDirectory);
        options.MaxSteps = 1;
        using var tuned = ml.Neftune().InstructionTuning(options).Fit(ml.Data.LoadFromEnumerable(MLNetTestData.Records(4)));

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => tuned.Transform(ml.Data.LoadFromEnumerable(new[] { new NoInput() })));
        Assert.Contains("'Input'", error.Message);
        var scored = tuned.Transform(ml.Data.LoadFromEnumerable(new[] { new NoResponse { Instruction = "Say hi." } }));
        Assert.Equal(TextDataViewType.Instance, scored.Schema["Generated"].Type);
    }
}
