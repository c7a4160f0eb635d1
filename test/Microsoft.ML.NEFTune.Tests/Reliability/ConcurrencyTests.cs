using System.Collections.Concurrent;
using Microsoft.ML.Data;
using Microsoft.ML.NEFTune.Tests.MLNet;
using Xunit.Abstractions;

namespace Microsoft.ML.NEFTune.Tests.Reliability;

/// <summary>
/// One <see cref="NeftuneInstructionTuningTransformer"/> used from several threads at once: prediction engines (one per
/// thread, ML.NET's convention), direct <c>Generate</c> calls, cursors over <c>Transform</c> and <c>SaveModel</c> all give
/// the single-threaded results; disposing it while other threads generate ends their calls with
/// <see cref="ObjectDisposedException"/>, never a crash.
/// </summary>
public sealed class ConcurrencyTests : IDisposable
{
    private readonly ITestOutputHelper output;
    private readonly TempDirectory temp = new();
    private readonly MLContext ml = new(seed: 1);
    private readonly List<InstructionRow> rows = MLNetTestData.Records(4, skip: 30);

    public ConcurrencyTests(ITestOutputHelper output)
    {
        this.output = output;
        MLNetTestData.CreateTinyModel(temp["model"]);
        File.WriteAllText(Path.Combine(temp["model"], "neftune.json"),
            "{\"instruction_column_name\": \"Instruction\", \"input_column_name\": \"Input\", \"output_column_name\": \"Generated\", \"max_new_tokens\": 5}");
    }

    public void Dispose() => temp.Dispose();

    private NeftuneInstructionTuningTransformer Load() => NeftuneModel.LoadTransformer(ml, temp["model"]);

    private static string? Input(InstructionRow r) => string.IsNullOrEmpty(r.Input) ? null : r.Input;

    [Fact]
    public void EnginesGenerateCursorsAndSavesOnManyThreadsGiveTheSequentialResults()
    {
        using var transformer = Load();
        var expected = rows.Select(r => transformer.Generate(r.Instruction, Input(r))).ToList();
        var data = ml.Data.LoadFromEnumerable(rows);
        var results = new ConcurrentBag<(string Kind, List<string> Texts)>();
        int saves = 0;

        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            switch (i % 4)
            {
                case 0:
                case 1:
                    var engine = ml.Model.CreatePredictionEngine<InstructionRow, GeneratedRow>(transformer);
                    results.Add(("engine", rows.Select(r => engine.Predict(r).Generated).ToList()));
                    break;
                case 2:
                    results.Add(("generate", rows.Select(r => transformer.Generate(r.Instruction, Input(r))).ToList()));
                    break;
                default:
                    var texts = new List<string>();
                    using (var cursor = transformer.Transform(data).GetRowCursor(transformer.Transform(data).Schema))
                    {
                        var getter = cursor.GetGetter<ReadOnlyMemory<char>>(cursor.Schema["Generated"]);
                        ReadOnlyMemory<char> value = default;
                        while (cursor.MoveNext()) { getter(ref value); texts.Add(value.ToString()); }
                    }
                    results.Add(("cursor", texts));
                    transformer.SaveModel(temp[$"saved-{i}"]);
                    Interlocked.Increment(ref saves);
                    break;
            }
        });

        Assert.Equal(8, results.Count);
        Assert.All(results, r => Assert.Equal(expected, r.Texts));
        using var reloaded = NeftuneModel.LoadTransformer(ml, temp["saved-3"]);
        Assert.Equal(expected, rows.Select(r => reloaded.Generate(r.Instruction, Input(r))).ToList());
        output.WriteLine($"{results.Count} threads ({string.Join(", ", results.GroupBy(r => r.Kind).Select(g => $"{g.Count()} {g.Key}"))}), {saves} concurrent saves: all equal to the sequential texts");
    }

    [Fact]
    public void DisposeWhileOtherThreadsGenerateEndsTheirCallsWithObjectDisposed()
    {
        var transformer = Load();
        var expected = transformer.Generate(rows[0].Instruction, Input(rows[0]));
        var outcomes = new ConcurrentBag<string>();
        using var started = new CountdownEvent(4);
        var threads = Enumerable.Range(0, 4).Select(i => new Thread(() =>
        {
            var engine = i % 2 == 0 ? ml.Model.CreatePredictionEngine<InstructionRow, GeneratedRow>(transformer) : null;
            for (int n = 0; ; n++)
            {
                try
                {
                    var text = engine is not null ? engine.Predict(rows[0]).Generated : transformer.Generate(rows[0].Instruction, Input(rows[0]));
                    outcomes.Add(text == expected ? "expected text" : "WRONG TEXT: " + text);
                }
                catch (ObjectDisposedException)
                {
                    outcomes.Add("ObjectDisposedException");
                    return;
                }
                catch (Exception e)
                {
                    outcomes.Add("UNEXPECTED " + e.GetType().Name + ": " + e.Message);
                    return;
                }
                finally
                {
                    if (n == 0) started.Signal();
                }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        Assert.True(started.Wait(TimeSpan.FromMinutes(3)), "no generation thread started within 3 minutes");
        transformer.Dispose();
        Assert.All(threads, t => Assert.True(t.Join(TimeSpan.FromMinutes(3)), "a generation thread did not end within 3 minutes of Dispose"));

        var histogram = outcomes.GroupBy(o => o).ToDictionary(g => g.Key, g => g.Count());
        output.WriteLine(string.Join(", ", histogram.Select(kv => $"{kv.Value} × {kv.Key}")));
        Assert.Equal(4, histogram.GetValueOrDefault("ObjectDisposedException"));
        Assert.All(histogram.Keys, k => Assert.True(k is "expected text" or "ObjectDisposedException", k));
        Assert.Throws<ObjectDisposedException>(() => transformer.Generate("Say hi."));
    }
}
