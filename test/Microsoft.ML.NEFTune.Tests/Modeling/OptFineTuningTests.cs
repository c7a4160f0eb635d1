using System.Text.Json;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Lora;
using LoraApi = Microsoft.ML.NEFTune.Lora.LoraAdapters;
using Microsoft.ML.NEFTune.Modeling;
using Microsoft.ML.NEFTune.Noise;
using Microsoft.ML.NEFTune.Quantization;
using Microsoft.ML.NEFTune.Tests.Cli;
using Microsoft.ML.NEFTune.Tests.MLNet;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.Modeling;

/// <summary>A tiny random OPT (embedding 8 projected to hidden 16) with the OPT-style tokenizer folder, fine-tuned like a Llama.</summary>
public sealed class OptFineTuningTests : IDisposable
{
    private readonly TempDirectory temp = new();
    private readonly string model;
    private readonly string data;

    public OptFineTuningTests()
    {
        model = temp["opt"];
        var config = LlamaConfig.FromJson(new System.Text.Json.Nodes.JsonObject
        {
            ["model_type"] = "opt", ["vocab_size"] = 50261, ["hidden_size"] = 16, ["word_embed_proj_dim"] = 8, ["ffn_dim"] = 32,
            ["num_hidden_layers"] = 2, ["num_attention_heads"] = 2, ["max_position_embeddings"] = 128, ["do_layer_norm_before"] = true,
        });
        using var m = new LlamaForCausalLM(config);
        m.InitializeWeights(5);
        HuggingFaceCheckpoint.Save(m, model);
        var tokenizer = Path.Combine(RepositoryFiles.Root, "test", "Microsoft.ML.NEFTune.Tests", "References", "opt-tokenizer");
        foreach (var f in new[] { "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json" })
            File.Copy(Path.Combine(tokenizer, f), Path.Combine(model, f));
        data = temp["alpaca.json"];
        using var all = JsonDocument.Parse(File.ReadAllText(Fixtures.AlpacaDemo));
        File.WriteAllText(data, "[" + string.Join(",", all.RootElement.EnumerateArray().Take(12).Select(e => e.GetRawText())) + "]");
    }

    public void Dispose() => temp.Dispose();

    private static float[] Weights(string dir, string key)
    {
        var file = SafetensorsFile.Open(Path.Combine(dir, "model.safetensors"));
        using var t = file.Read(key);
        return t.data<float>().ToArray();
    }

    [Fact]
    public void TheCliFineTunesAnOptModelWithNeftuneAndSavesItInOptLayout()
    {
        var result = CliRunner.Run("train", "--model", model, "--data", data, "--noise-alpha", "5", "--max-steps", "3", "--batch-size", "4",
            "--lr", "1e-2", "--max-length", "64", "--seed", "1", "--out", temp["out"]);
        Assert.True(result.ExitCode == 0, result.Error);
        foreach (var f in new[] { "config.json", "model.safetensors", "vocab.json", "merges.txt" })
            Assert.True(File.Exists(Path.Combine(temp["out"], f)), f);
        using var tuned = HuggingFaceCheckpoint.Load(temp["out"]);
        Assert.Equal("opt", tuned.Config.ModelType);
        const string key = "model.decoder.layers.0.fc1.weight";
        Assert.NotEqual(Weights(model, key), Weights(temp["out"], key));
    }

    [Fact]
    public void TheCliTrainsAPeftLoraAdapterOnOptsAttentionProjections()
    {
        var result = CliRunner.Run("train", "--model", model, "--data", data, "--noise-alpha", "5", "--max-steps", "2", "--batch-size", "4",
            "--lr", "1e-2", "--max-length", "64", "--seed", "1", "--lora-rank", "4", "--lora-targets", "q_proj,k_proj,v_proj,out_proj", "--out", temp["lora"]);
        Assert.True(result.ExitCode == 0, result.Error);
        var adapter = Directory.GetFiles(temp["lora"], "adapter_config.json", SearchOption.AllDirectories).First();
        using var config = JsonDocument.Parse(File.ReadAllText(adapter));
        Assert.Equal(new[] { "k_proj", "out_proj", "q_proj", "v_proj" }, config.RootElement.GetProperty("target_modules").EnumerateArray().Select(e => e.GetString()).OrderBy(t => t, StringComparer.Ordinal));
        var weights = SafetensorsFile.Open(Path.Combine(Path.GetDirectoryName(adapter)!, "adapter_model.safetensors"));
        Assert.Contains("base_model.model.model.decoder.layers.1.self_attn.out_proj.lora_B.weight", weights.Entries.Keys);
    }

    // Both layouts of real OPT checkpoints: model.decoder.* with a tied lm_head copy, and decoder.* with project_in/out.
    [Theory]
    [InlineData("pre-ln")]
    [InlineData("post-ln-project")]
    public void LoraOnOptSavesAMergedModelAndAnAdapterThatReloadWithTheTrainedFunction(string reference)
    {
        using var dir = new TempDirectory();
        var source = OptReferenceTests.CaseDirectory(reference);
        using var m = HuggingFaceCheckpoint.Load(source);
        var ids = new long[] { 2, 7, 19, 4, 33, 12, 40, 5 };
        Tensor Logits(LlamaForCausalLM x) { using var _ = no_grad(); x.eval(); return x.forward(tensor(ids).unsqueeze(0)); }
        using var before = Logits(m);
        var options = new Microsoft.ML.NEFTune.Training.TrainingOptions
        {
            LearningRate = 1e-2, BatchSize = 4, Epochs = 1, NoiseOffTrainSampleSize = 4, Seed = 5, OutputDirectory = dir.Path,
            Noise = new NeftuneOptions { Alpha = 5 }, Lora = new LoraOptions { Rank = 4, TargetModules = LoraOptions.AllProjections },
        };
        using (var trainer = new Microsoft.ML.NEFTune.Training.NeftuneTrainer(m, TinyModels.PatternExamples(8, seed: 3, vocab: m.Config.VocabSize), null, options)) trainer.Train();
        using var after = Logits(m);
        Assert.True(after.sub(before).abs().max().item<float>() > 1e-3, "training did not change the model");

        var saved = dir["merged"];
        var keys = SafetensorsFile.Open(Path.Combine(source, "model.safetensors")).Entries.Keys
            .Where(k => k != "lm_head.weight").Select(k => k.StartsWith("model.") ? k : "model." + k).Order();      // saved as model.decoder.*, without the tied head
        Assert.Equal(keys, SafetensorsFile.Open(Path.Combine(saved, "model.safetensors")).Entries.Keys.Order());
        using var reloaded = HuggingFaceCheckpoint.Load(saved);
        using var mergedLogits = Logits(reloaded);
        Assert.InRange(mergedLogits.sub(after).abs().max().item<float>(), 0, 1e-4);    // W + BA rounded once to float32
        using var onBase = HuggingFaceCheckpoint.Load(source);
        LoraApi.LoadAdapter(onBase, dir.Path);
        using var adapterLogits = Logits(onBase);
        Assert.True(adapterLogits.eq(after).all().item<bool>(), "the reloaded adapter gives other logits");
    }

    [Fact]
    public void LoraOnOptRefusesATargetItDoesNotHave()
    {
        using var m = HuggingFaceCheckpoint.Load(model);
        var e = Assert.Throws<ArgumentException>(() => LoraApi.Apply(m, new LoraOptions { TargetModules = new[] { "gate_proj" } }, seed: 1));
        Assert.Contains("gate_proj", e.Message);
        Assert.Contains("out_proj", e.Message);
    }

    [Fact]
    public void MlNetFitsAnOptModelWithNoisyEmbeddings()
    {
        var ml = new MLContext(seed: 1);
        var options = MLNetTestData.FastOptions(model);
        options.MaxSteps = 2;
        using var tuned = ml.Neftune().InstructionTuning(options).Fit(ml.Data.LoadFromEnumerable(MLNetTestData.Records(8)));
        Assert.Equal(2, tuned.TrainingResult!.Steps);
        Assert.Equal("opt", tuned.Model.Config.ModelType);
        var engine = ml.Model.CreatePredictionEngine<InstructionRow, GeneratedRow>(tuned);
        Assert.NotNull(engine.Predict(new InstructionRow { Instruction = "Say hi." }).Generated);
    }

    [Fact]
    public void NeftuneNoiseReachesOptThroughTheEmbeddingTransformInTrainingModeOnly()
    {
        using var m = HuggingFaceCheckpoint.Load(model);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var ids = tensor(new long[] { 2, 40, 41, 42, 43, 44 }).unsqueeze(0);
        m.train();
        var clean = m.forward(ids);
        using var noise = Neftune.Attach(m, new NeftuneOptions { Alpha = 5 }, seed: 3);
        Assert.Same(noise, m.Model.EmbeddingTransform);
        Assert.False(m.forward(ids).allclose(clean, rtol: 0, atol: 1e-6));               // noisy in training mode
        m.eval();
        Assert.True(m.forward(ids).equal(clean).all().item<bool>());                     // untouched in eval mode
        var second = Assert.Throws<InvalidOperationException>(() => Neftune.Attach(m, new NeftuneOptions { Alpha = 5 }, seed: 4));
        Assert.Contains("one noise at a time", second.Message);
        Neftune.Detach(m);
        m.train();
        Assert.True(m.forward(ids).equal(clean).all().item<bool>());
    }

    [Fact]
    public void GradientCheckpointingOnOptIsRefusedByName()
    {
        var result = CliRunner.Run("train", "--model", model, "--data", data, "--max-steps", "1", "--batch-size", "4",
            "--max-length", "64", "--gradient-checkpointing", "--out", temp["gc"]);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("Gradient checkpointing is not supported for opt", result.Error);
    }

    [Fact]
    public void QLoraOnOptQuantizesEveryProjectionAndTrainsOnlyTheAdapters()
    {
        using var m = HuggingFaceCheckpoint.Load(model);
        var adapters = LoraApi.Apply(m, new LoraOptions { Rank = 4, TargetModules = new[] { "q_proj", "k_proj", "v_proj", "out_proj" }, QuantizeBase = BaseQuantization.Nf4 }, seed: 1);
        Assert.Equal(2 * 4 * 2, adapters.Count);                                          // 2 layers × 4 targets × (A, B)
        var modules = m.named_modules().ToDictionary(x => x.name, x => x.module);
        Assert.IsAssignableFrom<QuantizedLinear>(modules["model.decoder.layers.0.fc1"]);    // the frozen base is 4-bit too
        Assert.IsAssignableFrom<QuantizedLinear>(((LoraLinear)modules["model.decoder.layers.1.self_attn.out_proj"]).BaseLayer);
        Assert.Equal(adapters.Count, m.parameters().Count(p => p.requires_grad));
        m.train();
        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 2, 40, 41, 42, 43, 44, 45 }).unsqueeze(0);
        m.Loss(ids, ids.clone()).backward();
        Assert.Contains(adapters, p => p.grad is { } g && g.abs().max().item<float>() > 0);      // lora_B gets a gradient at init
    }
}
