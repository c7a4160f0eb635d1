using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.NEFTune.Lora;
using Microsoft.ML.NEFTune.Modeling;
using Microsoft.ML.NEFTune.Noise;
using Microsoft.ML.NEFTune.Quantization;
using TorchSharp;
using static TorchSharp.torch;
using LoraApi = Microsoft.ML.NEFTune.Lora.LoraAdapters;

namespace Microsoft.ML.NEFTune.Benchmarks;

/// <summary>
/// Memory and forward+backward time of full fine-tuning and of LoRA over float32, int8 and NF4 bases
/// (<c>neftune bench --lora-table FILE</c>: the stories15M shape, 4 × 256 tokens, the table of docs/lora.md).
/// </summary>
public static class LoraBenchmark
{
    public sealed record Row(string Setup, long StoredBytes, long DecoderLinearBytes, long TrainableParameters, double MedianStepMs);

    private static readonly (string Name, LoraOptions? Lora)[] Setups =
    {
        ("full fine-tuning, float32", null),
        ("LoRA r=8 q,k,v,o, float32 base", new LoraOptions()),
        ("LoRA r=8 q,k,v,o, int8 base", new LoraOptions { QuantizeBase = BaseQuantization.Int8 }),
        ("LoRA r=8 q,k,v,o, NF4 base", new LoraOptions { QuantizeBase = BaseQuantization.Nf4 }),
        ("LoRA r=8 all, NF4 base", new LoraOptions { QuantizeBase = BaseQuantization.Nf4, TargetModules = LoraOptions.AllProjections }),
    };

    /// <summary>Each setup's bytes, and the median over <paramref name="rounds"/> interleaved rounds of <paramref name="steps"/> timed steps.</summary>
    public static IReadOnlyList<Row> Run(LlamaConfig config, int batch, int length, int rounds, int steps)
    {
        var models = Setups.Select(s =>
        {
            var model = new LlamaForCausalLM(config);
            model.InitializeWeights(1);
            if (s.Lora is not null) LoraApi.Apply(model, s.Lora, seed: 1);
            model.train();
            model.Model.EmbeddingTransform = new NeftuneNoise(new NeftuneOptions { Alpha = 5 }, 1);
            return model;
        }).ToList();
        var generator = new Generator(3);
        using var ids = randint(3, config.VocabSize, new long[] { batch, length }, generator: generator);
        var times = models.Select(_ => new List<double>()).ToList();
        for (int round = 0; round < rounds + 1; round++)                   // round 0 warms up
            for (int m = 0; m < models.Count; m++)
            {
                var clock = Stopwatch.StartNew();
                for (int s = 0; s < steps; s++) Step(models[m], ids);
                if (round > 0) times[m].Add(clock.Elapsed.TotalMilliseconds / steps);
            }
        var rows = new List<Row>();
        for (int m = 0; m < models.Count; m++)
        {
            var model = models[m];
            long linear = model.named_modules().Where(x => x.name.EndsWith("_proj") && !x.name.Contains("lora"))
                .Sum(x => ModelMemory.StoredBytes(x.module) - (x.module is LoraLinear l ? (l.LoraA.numel() + l.LoraB.numel()) * 4 : 0));
            rows.Add(new Row(Setups[m].Name, ModelMemory.StoredBytes(model), linear,
                model.parameters().Where(p => p.requires_grad).Sum(p => p.numel()), times[m].Order().ElementAt(times[m].Count / 2)));
            model.Model.EmbeddingTransform = null;
            model.Dispose();
        }
        return rows;
    }

    private static void Step(LlamaForCausalLM model, Tensor ids)
    {
        using var scope = NewDisposeScope();
        model.zero_grad();
        model.Loss(ids, ids).backward();
    }

    public static string Table(IReadOnlyList<Row> rows)
    {
        var inv = CultureInfo.InvariantCulture;
        var fp32 = rows[0];
        var lines = new List<string>
        {
            "| setup | stored bytes (MiB) | vs float32 | decoder linear bytes (MiB) | vs float32 | trainable parameters | forward+backward (ms) |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        };
        lines.AddRange(rows.Select(r => string.Format(inv, "| {0} | {1:F2} | {2:P0} | {3:F2} | {4:P0} | {5:N0} | {6:F0} |", r.Setup,
            r.StoredBytes / 1048576.0, (double)r.StoredBytes / fp32.StoredBytes, r.DecoderLinearBytes / 1048576.0,
            (double)r.DecoderLinearBytes / fp32.DecoderLinearBytes, r.TrainableParameters, r.MedianStepMs)));
        return string.Join('\n', lines);
    }

    /// <summary>The docs/lora.md measurement: the stories15M shape, 4 × 256 tokens, 5 interleaved rounds of 3 steps.</summary>
    public static string MeasureStories15M() => Table(Run(BenchmarkShape.Stories15M().Config, batch: 4, length: 256, rounds: 5, steps: 3));
}
