using System.Text.Json;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Modeling;
using Microsoft.ML.NEFTune.Noise;
using Microsoft.ML.NEFTune.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.Training;

/// <summary>
/// Four optimizer steps of the trainer (noise off) against an independent float64 reference written from the transformers
/// source with PyTorch 1.13 (eng/reference/trainer_reference.py): a one-layer Llama, response-only loss normalised over the
/// accumulated micro-batches, AdamW with norms excluded from weight decay, the cosine schedule with warmup, and gradient
/// clipping that acts on every step.
/// </summary>
public class PyTorchReferenceTests
{
    private static JsonElement Load()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Training", "TrainerReference.json")));
        return doc.RootElement.Clone();
    }

    private static double[] Doubles(JsonElement array) => array.EnumerateArray().Select(e => e.GetDouble()).ToArray();

    [Fact]
    public void FourStepsWithClippingAndACosineScheduleMatchPyTorch()
    {
        var root = Load();
        var c = root.GetProperty("config");
        var s = root.GetProperty("settings");
        var config = new LlamaConfig
        {
            VocabSize = c.GetProperty("vocab_size").GetInt32(), HiddenSize = c.GetProperty("hidden_size").GetInt32(),
            IntermediateSize = c.GetProperty("intermediate_size").GetInt32(), NumHiddenLayers = c.GetProperty("num_hidden_layers").GetInt32(),
            NumAttentionHeads = c.GetProperty("num_attention_heads").GetInt32(), NumKeyValueHeads = c.GetProperty("num_key_value_heads").GetInt32(),
            HeadDim = c.GetProperty("head_dim").GetInt32(), RmsNormEps = c.GetProperty("rms_norm_eps").GetDouble(),
            RopeTheta = c.GetProperty("rope_theta").GetDouble(), MaxPositionEmbeddings = c.GetProperty("max_position_embeddings").GetInt32(),
            TieWordEmbeddings = false,
        };
        using var model = new LlamaForCausalLM(config);
        var initial = root.GetProperty("initial");
        using (no_grad())
            foreach (var (name, p) in model.named_parameters())
            {
                using var value = tensor(Doubles(initial.GetProperty(name)).Select(v => (float)v).ToArray()).view(p.shape);
                p.copy_(value);
            }
        var examples = root.GetProperty("examples").EnumerateArray().Select(e =>
        {
            var ids = e.GetProperty("input_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray();
            int unlabelled = e.GetProperty("unlabelled").GetInt32();
            return new TokenizedExample(ids, ids.Select((id, t) => t < unlabelled ? ExampleTokenizer.LabelIgnoreIndex : id).ToArray());
        }).ToList();
        var options = new TrainingOptions
        {
            Noise = new NeftuneOptions { Alpha = 0 }, LearningRate = s.GetProperty("learning_rate").GetDouble(), WeightDecay = s.GetProperty("weight_decay").GetDouble(),
            AdamBeta1 = s.GetProperty("adam_beta1").GetDouble(), AdamBeta2 = s.GetProperty("adam_beta2").GetDouble(), AdamEpsilon = s.GetProperty("adam_epsilon").GetDouble(),
            Scheduler = LearningRateSchedule.Cosine, WarmupRatio = s.GetProperty("warmup_ratio").GetDouble(), Epochs = s.GetProperty("epochs").GetInt32(),
            BatchSize = s.GetProperty("batch_size").GetInt32(), GradientAccumulationSteps = s.GetProperty("gradient_accumulation_steps").GetInt32(),
            MaxGradNorm = s.GetProperty("max_grad_norm").GetDouble(), GroupByLength = false, NoiseOffTrainSampleSize = 0, Seed = 1,
        };

        TrainingResult result;
        using (var trainer = new NeftuneTrainer(model, examples, null, options)) result = trainer.Train();

        var steps = root.GetProperty("steps").EnumerateArray().ToList();
        var logged = result.History.Where(h => h.TrainLoss is not null).ToList();
        Assert.Equal(steps.Count, logged.Count);
        for (int i = 0; i < steps.Count; i++)
        {
            Assert.Equal(steps[i].GetProperty("learning_rate").GetDouble(), logged[i].LearningRate!.Value, 12);
            double norm = steps[i].GetProperty("grad_norm").GetDouble();
            Assert.True(Math.Abs(logged[i].GradNorm!.Value - norm) < 1e-4 * norm, $"step {i + 1}: gradient norm {logged[i].GradNorm} vs {norm}");
            Assert.True(norm > options.MaxGradNorm, $"step {i + 1}: clipping did not act (norm {norm})");
            double loss = steps[i].GetProperty("loss").GetDouble();
            Assert.True(Math.Abs(logged[i].TrainLoss!.Value - loss) < 1e-5 * loss, $"step {i + 1}: loss {logged[i].TrainLoss} vs {loss}");
        }
        var final = root.GetProperty("final");
        double worst = 0;
        string worstName = "";
        foreach (var (name, p) in model.named_parameters())
        {
            var expected = Doubles(final.GetProperty(name));
            var actual = p.detach().to_type(ScalarType.Float64).data<double>().ToArray();
            Assert.Equal(expected.Length, actual.Length);
            for (int i = 0; i < actual.Length; i++)
                if (Math.Abs(actual[i] - expected[i]) > worst) { worst = Math.Abs(actual[i] - expected[i]); worstName = $"{name}[{i}]"; }
        }
        // The updates are about lr = 2e-2 per step; float32 rounding leaves differences near 1e-6.
        Assert.True(worst < 2e-5, $"largest difference from PyTorch {worst:G3} at {worstName}");
    }
}
