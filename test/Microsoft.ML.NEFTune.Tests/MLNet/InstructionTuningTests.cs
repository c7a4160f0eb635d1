using System.IO.Compression;
using System.Reflection;
using System.Text.Json.Nodes;
using Microsoft.ML.Data;
using Microsoft.ML.NEFTune.Generation;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.IO.Tokenizers;
using Microsoft.ML.Transforms.Text;

namespace Microsoft.ML.NEFTune.Tests.MLNet;

public class InstructionTuningTests : IClassFixture<TunedPipelineFixture>
{
    private readonly TunedPipelineFixture f;

    public InstructionTuningTests(TunedPipelineFixture fixture) => f = fixture;

    private static List<string> ReadText(IDataView view, string column)
    {
        var values = new List<string>();
        var col = view.Schema[column];
        using var cursor = view.GetRowCursor(new[] { col });
        var getter = cursor.GetGetter<ReadOnlyMemory<char>>(col);
        ReadOnlyMemory<char> value = default;
        while (cursor.MoveNext())
        {
            getter(ref value);
            values.Add(value.ToString());
        }
        return values;
    }

    private List<string> Expected() => f.NormalizedTestPrompts().Select(p => f.Tuned.Generate(p.Instruction, p.Input)).ToList();

    [Fact]
    public void TransformAddsTheGeneratedTextColumnReadThroughACursor()
    {
        var scored = f.Model.Transform(f.Test);

        Assert.IsType<TextDataViewType>(scored.Schema["Generated"].Type);
        var generated = ReadText(scored, "Generated");
        Assert.Equal(3, generated.Count);
        Assert.Contains(generated, g => g.Length > 0);
        Assert.Equal(Expected(), generated);
    }

    [Fact]
    public void TransformsAfterTheStepReadTheGeneratedColumn()
    {
        var scored = f.Model.Transform(f.Test);
        var generated = ReadText(scored, "Generated");

        var alone = f.Context.Data.LoadFromEnumerable(generated.Select(g => new GeneratedRow { Generated = g }));
        var upper = f.Context.Transforms.Text.NormalizeText("GeneratedUpper", "Generated", TextNormalizingEstimator.CaseMode.Upper).Fit(alone).Transform(alone);
        Assert.Equal(ReadText(upper, "GeneratedUpper"), ReadText(scored, "GeneratedUpper"));
    }

    [Fact]
    public void PredictionEngineGivesTheTextOfTheCursor()
    {
        var engine = f.Context.Model.CreatePredictionEngine<InstructionRow, GeneratedRow>(f.Model);
        var rows = f.Context.Data.CreateEnumerable<InstructionRow>(f.Test, reuseRowObject: false).ToList();

        var predictions = rows.Select(r => engine.Predict(r)).ToList();

        Assert.Equal(Expected(), predictions.Select(p => p.Generated));
        Assert.Equal(ReadText(f.Model.Transform(f.Test), "GeneratedUpper"), predictions.Select(p => p.GeneratedUpper));
    }

    [Fact]
    public void TransformGeneratesOnlyWhenACursorReadsTheColumnAndOncePerRow()
    {
        var counter = new ReadCounter();
        var rows = f.Context.Data.CreateEnumerable<InstructionRow>(f.Test, reuseRowObject: false)
            .Select(r => new CountingRow { Counter = counter, Instruction = r.Instruction, Input = r.Input, Output = r.Output }).ToList();
        var data = f.Context.Data.LoadFromEnumerable(rows);

        var view = f.Tuned.Transform(data);
        Assert.Equal(0, counter.Reads);

        var generated = view.Schema["Generated"];
        using var cursor = view.GetRowCursor(new[] { generated, view.Schema["Output"] });
        var getter = cursor.GetGetter<ReadOnlyMemory<char>>(generated);
        Assert.True(cursor.MoveNext());
        Assert.True(cursor.MoveNext());
        Assert.Equal(0, counter.Reads);
        ReadOnlyMemory<char> first = default, second = default;
        getter(ref first);
        getter(ref second);
        Assert.Equal(1, counter.Reads);
        Assert.Equal(first.ToString(), second.ToString());
        Assert.Equal(f.Tuned.Generate(rows[1].Instruction, rows[1].Input), first.ToString());
    }

    public sealed class ReadCounter
    {
        public int Reads;
    }

    public sealed class CountingRow
    {
        private string instruction = "";

        [NoColumn]
        public ReadCounter? Counter { get; set; }

        public string Instruction
        {
            get
            {
                if (Counter is not null) Interlocked.Increment(ref Counter.Reads);
                return instruction;
            }
            set => instruction = value;
        }

        public string Input { get; set; } = "";
        public string Output { get; set; } = "";
    }

    [Fact]
    public void ParallelCursorRequestsGetASingleCursorThatReadsEveryRow()
    {
        var scored = f.Tuned.Transform(f.Test);
        var cursors = scored.GetRowCursorSet(scored.Schema, 4);
        var cursor = Assert.Single(cursors);
        using (cursor)
        {
            int rows = 0;
            while (cursor.MoveNext()) rows++;
            Assert.Equal(3, rows);
        }
    }

    [Fact]
    public void ConcurrentPredictionEnginesGiveTheSequentialText()
    {
        var rows = f.Context.Data.CreateEnumerable<InstructionRow>(f.Test, reuseRowObject: false).ToList();
        var expected = Expected();

        var results = new List<string>[4];
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            var engine = f.Context.Model.CreatePredictionEngine<InstructionRow, GeneratedRow>(f.Model);
            results[i] = rows.Select(r => engine.Predict(r).Generated).ToList();
        });

        Assert.All(results, r => Assert.Equal(expected, r));
    }

    [Fact]
    public void BatchedGenerationGivesTheSingleRowText()
    {
        using var temp = new TempDirectory();
        f.Tuned.SaveModel(temp.Path);
        var settingsPath = Path.Combine(temp.Path, "neftune.json");
        var settings = JsonNode.Parse(File.ReadAllText(settingsPath))!;
        settings["generation_batch_size"] = 4;
        File.WriteAllText(settingsPath, settings.ToJsonString());
        using var batched = NeftuneModel.LoadTransformer(f.Context, temp.Path);

        var normalized = f.Context.Transforms.Text.NormalizeText("Instruction").Fit(f.Test).Transform(f.Test);
        Assert.Equal(Expected(), ReadText(batched.Transform(normalized), "Generated"));
    }

    [Fact]
    public void FitLogsProgressThroughTheContext()
    {
        lock (f.LogMessages)
        {
            Assert.Contains(f.LogMessages, m => m.Contains("step 4/4", StringComparison.Ordinal));
            Assert.Contains(f.LogMessages, m => m.Contains("validation loss", StringComparison.Ordinal));
        }
        Assert.Equal(4, f.Tuned.TrainingResult!.Steps);
        Assert.NotNull(f.Tuned.TrainingResult.FinalValidationLoss);
    }

    [Fact]
    public void SaveAndLoadInAnotherContextGiveIdenticalGenerations()
    {
        using var temp = new TempDirectory();
        var path = temp["assistant.zip"];
        NeftuneModel.Save(f.Context, f.Model, f.Train.Schema, path);

        var other = new MLContext(seed: 7);
        var loaded = NeftuneModel.Load(other, path, out var schema);
        try
        {
            Assert.Equal(f.Train.Schema.Select(c => c.Name), schema.Select(c => c.Name));
            var original = f.Model.Transform(f.Test);
            var reloaded = loaded.Transform(f.Test);
            Assert.Equal(ReadText(original, "Generated"), ReadText(reloaded, "Generated"));
            Assert.Equal(ReadText(original, "GeneratedUpper"), ReadText(reloaded, "GeneratedUpper"));
            var engine = other.Model.CreatePredictionEngine<InstructionRow, GeneratedRow>(loaded);
            Assert.Equal(Expected()[0], engine.Predict(other.Data.CreateEnumerable<InstructionRow>(f.Test, false).First()).Generated);
        }
        finally
        {
            (loaded as IDisposable)?.Dispose();
        }

        using var zip = ZipFile.OpenRead(path);
        var names = zip.Entries.Select(e => e.FullName).ToList();
        Assert.Contains("NEFTune/manifest.json", names);
        Assert.Contains("NEFTune/step-0/model.safetensors", names);
        Assert.Contains("NEFTune/step-0/config.json", names);
        Assert.Contains("NEFTune/step-0/tokenizer.model", names);
        Assert.Contains(names, n => n.StartsWith("TransformerChain/", StringComparison.Ordinal));
        Assert.Equal(new[] { "assistant.zip" }, Directory.GetFileSystemEntries(temp.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void FailedSaveLeavesTheEarlierFileUntouchedAndASingleStepReloads()
    {
        using var temp = new TempDirectory();
        var path = temp["assistant.zip"];
        NeftuneModel.Save(f.Context, f.Tuned, f.Test.Schema, path);
        var before = File.ReadAllBytes(path);

        f.Tuned.SaveModel(temp["folder"]);
        var disposed = NeftuneModel.LoadTransformer(f.Context, temp["folder"]);
        disposed.Dispose();
        Assert.Throws<ObjectDisposedException>(() => NeftuneModel.Save(f.Context, disposed, f.Test.Schema, path));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(new[] { "assistant.zip", "folder" }, Directory.GetFileSystemEntries(temp.Path).Select(Path.GetFileName).Order());
        using var single = Assert.IsType<NeftuneInstructionTuningTransformer>(NeftuneModel.Load(f.Context, path, out _));
        Assert.Equal(f.Tuned.Generate("Say hi."), single.Generate("Say hi."));
    }

    [Fact]
    public void MLNetModelSaveFailsAtOnceNamingNeftuneModelSave()
    {
        using var stream = new MemoryStream();
        var error = Assert.ThrowsAny<Exception>(() => f.Context.Model.Save(f.Model, f.Train.Schema, stream));
        Assert.Contains("NeftuneModel.Save", error.Message);
    }

    [Fact]
    public void MLNetModelLoadOfTheFileExplainsToUseNeftuneModelLoad()
    {
        using var temp = new TempDirectory();
        var path = temp["assistant.zip"];
        NeftuneModel.Save(f.Context, f.Model, f.Train.Schema, path);

        var plain = f.Context.Model.Load(path, out _);
        var error = Assert.ThrowsAny<Exception>(() => ReadText(plain.Transform(f.Test), "Generated"));
        Assert.Contains("NeftuneModel.Load", error.ToString());
    }

    [Fact]
    public void SaveModelWritesAHuggingFaceFolderThatReloadsToTheSameGenerations()
    {
        using var temp = new TempDirectory();
        f.Tuned.SaveModel(temp.Path);

        foreach (var file in new[] { "config.json", "model.safetensors", "generation_config.json", "tokenizer.model", "neftune.json" })
            Assert.True(File.Exists(Path.Combine(temp.Path, file)), file);
        using var model = HuggingFaceCheckpoint.Load(temp.Path);
        var prompt = f.NormalizedTestPrompts()[0];
        var rendered = f.Tuned.RenderPrompt(prompt.Instruction, prompt.Input);
        var text = new TextGenerator(model, TextTokenizer.Load(temp.Path)).Generate(rendered, f.Tuned.GenerationOptions);
        Assert.Equal(f.Tuned.Generate(prompt.Instruction, prompt.Input), text);
    }

    [Fact]
    public void DefaultDecodingIsGreedyWithRepetitionPenalty12()
    {
        Assert.Equal(0, f.Tuned.GenerationOptions.Temperature);
        Assert.Equal(1.2, f.Tuned.GenerationOptions.RepetitionPenalty);
        Assert.Equal(ReadText(f.Model.Transform(f.Test), "Generated"), ReadText(f.Model.Transform(f.Test), "Generated"));
    }

    [Fact]
    public void DisposeIsIdempotentAndLaterUseThrows()
    {
        using var temp = new TempDirectory();
        f.Tuned.SaveModel(temp.Path);
        var transformer = NeftuneModel.LoadTransformer(f.Context, temp.Path);

        transformer.Dispose();
        transformer.Dispose();

        Assert.Throws<ObjectDisposedException>(() => transformer.Generate("Say hi."));
        Assert.Throws<ObjectDisposedException>(() => transformer.Transform(f.Test));
        Assert.Throws<ObjectDisposedException>(() => transformer.SaveModel(temp["again"]));
    }

    [Fact]
    public void SimpleOverloadSetsTheColumnsAndNoise()
    {
        var options = f.Context.Neftune().InstructionTuning(f.ModelDirectory, "Instruction", "Output", "Answer", "Input", noiseAlpha: 10).Options;

        Assert.Equal(("Instruction", "Output", "Answer", "Input", 10.0), (options.InstructionColumnName, options.ResponseColumnName, options.OutputColumnName, options.InputColumnName, options.NoiseAlpha));
        Assert.Equal(5, new NeftuneInstructionTuningOptions().NoiseAlpha);
        Assert.Equal(1.2, new NeftuneInstructionTuningOptions().RepetitionPenalty);
    }

    [Fact]
    public void OptionsCarryEveryTrainerAndDecodingSetting()
    {
        var renamed = new Dictionary<string, string>
        {
            ["Noise"] = nameof(NeftuneInstructionTuningOptions.NoiseAlpha),
            ["Epochs"] = nameof(NeftuneInstructionTuningOptions.NumberOfEpochs),
            ["Scheduler"] = nameof(NeftuneInstructionTuningOptions.LearningRateSchedule),
            ["Template"] = nameof(NeftuneInstructionTuningOptions.PromptTemplate),
            ["Generation"] = nameof(NeftuneInstructionTuningOptions.Training),
        };
        var optionNames = typeof(NeftuneInstructionTuningOptions).GetProperties().Select(p => p.Name).ToHashSet();
        var trainer = typeof(Microsoft.ML.NEFTune.Training.TrainingOptions).GetProperties().Select(p => renamed.GetValueOrDefault(p.Name, p.Name));
        var decoding = typeof(GenerationOptions).GetProperties().Select(p => p.Name)
            .Except(new[] { nameof(GenerationOptions.EosTokenIds), nameof(GenerationOptions.UseCache) })
            .Select(n => n == nameof(GenerationOptions.Seed) ? nameof(NeftuneInstructionTuningOptions.GenerationSeed) : n);

        Assert.DoesNotContain(trainer.Concat(decoding), n => !optionNames.Contains(n));
    }

    [Theory]
    [InlineData(nameof(NeftuneInstructionTuningOptions.ModelPath))]
    [InlineData(nameof(NeftuneInstructionTuningOptions.MaxLength))]
    [InlineData(nameof(NeftuneInstructionTuningOptions.TopP))]
    [InlineData(nameof(NeftuneInstructionTuningOptions.BatchSize))]
    public void InvalidSettingsAreRejectedWhenThePipelineIsBuilt(string setting)
    {
        var options = MLNetTestData.FastOptions(f.ModelDirectory);
        switch (setting)
        {
            case nameof(options.ModelPath): options.ModelPath = null; break;
            case nameof(options.MaxLength): options.MaxLength = 0; break;
            case nameof(options.TopP): options.TopP = 0; break;
            case nameof(options.BatchSize): options.BatchSize = 0; break;
        }
        var error = Assert.ThrowsAny<ArgumentException>(() => f.Context.Neftune().InstructionTuning(options));
        Assert.Contains(setting, error.Message);
    }
}
