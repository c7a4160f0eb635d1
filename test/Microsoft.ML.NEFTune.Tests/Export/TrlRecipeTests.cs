using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.Export;
using Microsoft.ML.NEFTune.Noise;
using Microsoft.ML.NEFTune.Tests.Cli;
using Microsoft.ML.NEFTune.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.Export;

/// <summary>The TRL recipe: its files, and its NEFTune hook run by Debian's python3-torch against this library's noise.</summary>
public class TrlRecipeTests
{
    private const long D = 64;

    /// <summary>Runs the exported hook on a zero embedding over a tiny batch and returns per-sequence statistics.</summary>
    private const string HookProbe = """
        import json, sys, torch
        sys.path.insert(0, sys.argv[1])
        from neftune_hook import install_neftune
        spec = json.loads(sys.argv[2])
        class Tiny(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = torch.nn.Embedding(100, spec["d"])
                torch.nn.init.zeros_(self.embed.weight)
            def get_input_embeddings(self):
                return self.embed
            def forward(self, input_ids, attention_mask=None, position_ids=None):
                return self.embed(input_ids)
        model = Tiny()
        install_neftune(model, spec["alpha"], spec["kind"], torch.Generator().manual_seed(1))
        out = {}
        ids = torch.ones(len(spec["mask"]), len(spec["mask"][0]), dtype=torch.long)
        model.train()
        masked = model(ids, attention_mask=torch.tensor(spec["mask"]))
        free = model(ids[:1], position_ids=torch.tensor([spec["positions"]]))
        model.eval()
        out["eval_max"] = float(model(ids, attention_mask=torch.tensor(spec["mask"])).abs().max())
        def stats(t):
            return {"max": float(t.abs().max()), "rms": float(t.pow(2).mean().sqrt())}
        out["masked"] = []
        for b, row in enumerate(spec["mask"]):
            n = sum(row)
            out["masked"].append({"real": stats(masked[b, :n]), "padding_max": float(masked[b, n:].abs().max()) if n < len(row) else 0.0})
        out["free"] = []
        starts = [i for i, p in enumerate(spec["positions"]) if p == 0] + [len(spec["positions"])]
        for a, b in zip(starts, starts[1:]):
            out["free"].append(stats(free[0, a:b]))
        print(json.dumps(out))
        """;

    private static JsonNode RunHook(string recipe, string kind, double alpha, int[][] mask, int[] positions)
    {
        var spec = new JsonObject
        {
            ["d"] = D, ["alpha"] = alpha, ["kind"] = kind,
            ["mask"] = new JsonArray(mask.Select(r => (JsonNode)new JsonArray(r.Select(v => (JsonNode)v).ToArray())).ToArray()),
            ["positions"] = new JsonArray(positions.Select(v => (JsonNode)v).ToArray()),
        };
        var start = new ProcessStartInfo(PythonTorch.Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(HookProbe.Replace("\r", ""));
        start.ArgumentList.Add(recipe);
        start.ArgumentList.Add(spec.ToJsonString());
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(120_000), "python3 did not finish within 120 s");
        Assert.True(process.ExitCode == 0, "python3 failed: " + stderr.Result);
        return JsonNode.Parse(stdout.Result)!;
    }

    /// <summary>The library's own scale for the same rows (its <see cref="NeftuneNoise.Magnitude"/>), per sequence.</summary>
    private static double LibraryScale(double alpha, long[] sequenceIds, int sequence)
    {
        using var noise = new NeftuneNoise(new NeftuneOptions { Alpha = alpha }, 1);
        using var seq = tensor(sequenceIds).unsqueeze(0);
        using var mag = noise.Magnitude(seq, 1, sequenceIds.Length, D, CPU);
        int index = Array.IndexOf(sequenceIds, (long)sequence);
        return mag[0, index, 0].item<float>();
    }

    [PythonTorchTheory]
    [InlineData("uniform")]
    [InlineData("gaussian")]
    public void TheExportedHookAddsTheLibrarysPerSequenceNoise(string kind)
    {
        using var dir = new TinyLlamaDirectory(records: 6);
        var recipe = dir["recipe"];
        TrlRecipe.Write(new TrlRecipeOptions
        {
            ModelPath = dir.ModelPath, DataPath = dir.DataPath, OutputDirectory = recipe,
            Training = new TrainingOptions { MaxLength = 64, Noise = new NeftuneOptions { Alpha = 5 }.WithKind(kind) },
        });
        var mask = new[] { Enumerable.Repeat(1, 96).ToArray(), Enumerable.Repeat(1, 40).Concat(Enumerable.Repeat(0, 56)).ToArray(), Enumerable.Repeat(1, 9).Concat(Enumerable.Repeat(0, 87)).ToArray() };
        var positions = Enumerable.Range(0, 60).Concat(Enumerable.Range(0, 36)).ToArray();       // a padding-free row of two sequences
        var stats = RunHook(recipe, kind, 5, mask, positions);

        Assert.Equal(0.0, stats["eval_max"]!.GetValue<double>());                                // no noise outside training
        double spread = kind == "uniform" ? 1 / Math.Sqrt(3) : 1;                                // each kind's std at scale s
        void Check(JsonNode s, double scale, long count)
        {
            double rms = s["rms"]!.GetValue<double>(), max = s["max"]!.GetValue<double>();
            double tolerance = 5 * Math.Sqrt((kind == "uniform" ? 4.0 / 45 : 2.0) / count);     // 5 SE of the relative second moment
            Assert.InRange(rms * rms / (scale * scale * spread * spread), 1 - tolerance, 1 + tolerance);
            if (kind == "uniform") Assert.InRange(max, 0.95 * scale, scale * (1 + 1e-6));
        }
        for (int b = 0; b < mask.Length; b++)
        {
            int n = mask[b].Sum();
            var seq = mask[b].Select(v => (long)v).ToArray();
            Check(stats["masked"]![b]!["real"]!, LibraryScale(5, seq, 1), n * D);
            Assert.Equal(0.0, stats["masked"]![b]!["padding_max"]!.GetValue<double>());
        }
        var freeIds = Enumerable.Repeat(1L, 60).Concat(Enumerable.Repeat(2L, 36)).ToArray();
        Check(stats["free"]![0]!, LibraryScale(5, freeIds, 1), 60 * D);
        Check(stats["free"]![1]!, LibraryScale(5, freeIds, 2), 36 * D);
    }

    [Fact]
    public void TheCliWritesEveryFileWithTheJobsSettings()
    {
        using var dir = new TinyLlamaDirectory(records: 6);
        var recipe = dir["recipe"];
        var result = CliRunner.Run("export-recipe", "--engine", "trl", "--model", dir.ModelPath, "--data", dir.DataPath, "--noise-alpha", "10",
            "--noise", "gaussian", "--lr", "2e-5", "--epochs", "3", "--batch-size", "4", "--max-length", "64", "--accelerate", "fsdp2", "--out", recipe);
        Assert.True(result.ExitCode == 0, result.Error);
        foreach (var f in new[] { "model/config.json", "model/model.safetensors", "model/tokenizer.model", "data/train.jsonl", "sft_config.yaml",
                     "accelerate/single-gpu.yaml", "accelerate/multi-gpu.yaml", "accelerate/fsdp2.yaml", "accelerate/zero3.yaml", "neftune_hook.py", "train.py", "README.md" })
            Assert.True(File.Exists(Path.Combine(recipe, f)), f);
        var config = File.ReadAllText(Path.Combine(recipe, "sft_config.yaml"));
        Assert.Contains("learning_rate: 2E-05", config);
        Assert.Contains("num_train_epochs: 3", config);
        Assert.Contains("per_device_train_batch_size: 4", config);
        Assert.Contains("max_length: 64", config);
        Assert.Contains("neftune_noise_alpha: null", config);
        var noise = JsonNode.Parse(File.ReadAllText(Path.Combine(recipe, "neftune.json")))!;
        Assert.Equal(10, noise["alpha"]!.GetValue<double>());
        Assert.Equal("gaussian", noise["kind"]!.GetValue<string>());
        Assert.Contains("accelerate/fsdp2.yaml", File.ReadAllText(Path.Combine(recipe, "train.py")));
        var first = JsonNode.Parse(File.ReadLines(Path.Combine(recipe, "data", "train.jsonl")).First())!;
        Assert.StartsWith("Below is an instruction that describes a task", first["prompt"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(first["completion"]!.GetValue<string>()));
        // train.py and the hook are valid Python (TRL itself is not installed here, so the script is not run).
        var compile = Process.Start(new ProcessStartInfo("/usr/bin/python3", $"-m py_compile {Path.Combine(recipe, "train.py")} {Path.Combine(recipe, "neftune_hook.py")}") { UseShellExecute = false, RedirectStandardError = true })!;
        Assert.True(compile.WaitForExit(60_000), "py_compile did not finish within 60 s");
        Assert.True(compile.ExitCode == 0, compile.StandardError.ReadToEnd());
    }

    [Fact]
    public void MlNetOptionsExportTheJobTheyDescribe()
    {
        using var dir = new TinyLlamaDirectory(records: 6);
        var recipe = dir["recipe"];
        var options = new NeftuneInstructionTuningOptions { ModelPath = dir.ModelPath, NoiseAlpha = 15, NoiseKind = "gaussian", LearningRate = 3e-5, MaxLength = 48, PromptTemplate = "alpaca" };
        TrlRecipe.Write(options, dir.DataPath, recipe, accelerate: AccelerateProfile.Zero3);
        var noise = JsonNode.Parse(File.ReadAllText(Path.Combine(recipe, "neftune.json")))!;
        Assert.Equal((15.0, "gaussian"), (noise["alpha"]!.GetValue<double>(), noise["kind"]!.GetValue<string>()));
        var config = File.ReadAllText(Path.Combine(recipe, "sft_config.yaml"));
        Assert.Contains("learning_rate: 3E-05", config);
        Assert.Contains("max_length: 48", config);
        Assert.Contains("accelerate/zero3.yaml", File.ReadAllText(Path.Combine(recipe, "train.py")));
        Assert.Throws<ArgumentException>(() => TrlRecipe.Write(new NeftuneInstructionTuningOptions { ModelPath = dir.ModelPath, NoiseScaling = NeftuneScaling.PaddedLength }, dir.DataPath, dir["other"]));
    }
}
