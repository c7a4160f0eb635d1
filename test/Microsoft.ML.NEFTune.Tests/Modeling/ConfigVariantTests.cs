using Microsoft.ML.NEFTune.Generation;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.Modeling;

/// <summary>
/// Each config variant (llama, mistral sliding window, qwen2 biases, phi3 fused projections, rope scalings, explicit
/// head_dim, tied/untied heads, f32/f16/bf16 files) against float64 outputs of an independent NumPy model.
/// </summary>
public class ConfigVariantTests
{
    private const double Tolerance = 1e-4;

    private static double MaxAbsDiff(Tensor logits, double[,] expected, int firstRow = 0)
    {
        using var actual = logits.to_type(ScalarType.Float64).cpu();
        var a = actual.data<double>().ToArray();
        long V = actual.shape[^1];
        double worst = 0;
        for (int t = 0; t < actual.shape[0]; t++)
            for (int v = 0; v < V; v++)
                worst = Math.Max(worst, Math.Abs(a[t * V + v] - expected[firstRow + t, v]));
        return worst;
    }

    private static bool Identical(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    [Theory]
    [MemberData(nameof(VariantReference.All), MemberType = typeof(VariantReference))]
    public void LogitsMatchTheFloat64Reference(string variant)
    {
        var reference = VariantReference.Load(variant);
        using var model = ModelLoader.Load(reference.Directory);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var logits = model.forward(tensor(reference.InputIds).unsqueeze(0))[0];           // (T, V)
        Assert.InRange(MaxAbsDiff(logits, reference.Logits), 0, Tolerance);
    }

    [Theory]
    [MemberData(nameof(VariantReference.All), MemberType = typeof(VariantReference))]
    public void KeyValueCacheDecodingMatchesTheFloat64Reference(string variant)
    {
        var reference = VariantReference.Load(variant);
        using var model = ModelLoader.Load(reference.Directory);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var ids = tensor(reference.InputIds).unsqueeze(0);
        using var cache = new KVCache(model.Config, 1, reference.InputIds.Length, ScalarType.Float32, CPU);
        var prefill = model.forward(ids.narrow(1, 0, reference.Prefill), null, cache)[0];   // (prefill, V)
        Assert.InRange(MaxAbsDiff(prefill, reference.CachedLogits), 0, Tolerance);
        for (int t = reference.Prefill; t < reference.InputIds.Length; t++)
        {
            var step = model.forward(ids.narrow(1, t, 1), null, cache)[0];                  // (1, V)
            Assert.InRange(MaxAbsDiff(step, reference.CachedLogits, t), 0, Tolerance);
        }
    }

    [Theory]
    [MemberData(nameof(VariantReference.All), MemberType = typeof(VariantReference))]
    public void GreedyIdsMatchTheReferenceWithAndWithoutCache(string variant)
    {
        var reference = VariantReference.Load(variant);
        using var model = ModelLoader.Load(reference.Directory);
        var generator = new TextGenerator(model);
        var options = new GenerationOptions { MaxNewTokens = reference.MaxNewTokens, EosTokenIds = Array.Empty<int>() };
        Assert.Equal(reference.GreedyCached, generator.GenerateIds(new[] { reference.Prompt }, options with { UseCache = true })[0]);
        Assert.Equal(reference.GreedyUncached, generator.GenerateIds(new[] { reference.Prompt }, options with { UseCache = false })[0]);
    }

    [Theory]
    [MemberData(nameof(VariantReference.All), MemberType = typeof(VariantReference))]
    public void SavedModelHasTheFileLayoutOfItsFamilyAndReloadsWithIdenticalLogits(string variant)
    {
        var reference = VariantReference.Load(variant);
        using var dir = new TempDirectory();
        using var model = ModelLoader.Load(reference.Directory);
        HuggingFaceCheckpoint.Save(model, dir.Path);
        var original = SafetensorsFile.Open(Path.Combine(reference.Directory, "model.safetensors"));
        var saved = SafetensorsFile.Open(dir["model.safetensors"]);
        Assert.Equal(original.Entries.Keys.Order(), saved.Entries.Keys.Order());
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        foreach (var name in original.Entries.Keys)
            Assert.True(Identical(original.Read(name).to_type(ScalarType.Float32), saved.Read(name)), $"{name} changed in the round trip");
        var savedConfig = LlamaConfig.Load(dir["config.json"]).ToJson();
        savedConfig.Remove("torch_dtype");
        var originalConfig = model.Config.ToJson();
        originalConfig.Remove("torch_dtype");
        Assert.Equal(originalConfig.ToJsonString(), savedConfig.ToJsonString());
        using var reloaded = ModelLoader.Load(dir.Path);
        var ids = tensor(reference.InputIds).unsqueeze(0);
        Assert.True(Identical(model.forward(ids), reloaded.forward(ids)));
    }

    [Fact]
    public void SlidingWindowHoldsForPackedAndLeftPaddedRows()
    {
        var reference = VariantReference.Load("mistral-swa");
        using var model = ModelLoader.Load(reference.Directory);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        // Training path: two sequences packed in one row attend only within themselves, each through its own window.
        var a = tensor(reference.InputIds.Take(9).ToArray()).unsqueeze(0);
        var b = tensor(reference.InputIds.Skip(9).ToArray()).unsqueeze(0);
        var packed = cat(new[] { a, b }, 1);
        var sequences = cat(new[] { ones(1, 9, ScalarType.Int64), full(1, b.shape[1], 2L, ScalarType.Int64) }, 1);
        var logits = model.forward(packed, sequences)[0];
        Assert.True(allclose(model.forward(a)[0], logits.narrow(0, 0, 9), rtol: 0, atol: 1e-5));
        Assert.True(allclose(model.forward(b)[0], logits.narrow(0, 9, b.shape[1]), rtol: 0, atol: 1e-5));
        Assert.InRange(MaxAbsDiff(model.forward(a)[0], reference.Logits), 0, Tolerance);
        // Generation path: a left-padded batch decodes each prompt as it decodes alone.
        var generator = new TextGenerator(model);
        var options = new GenerationOptions { MaxNewTokens = reference.MaxNewTokens, EosTokenIds = Array.Empty<int>() };
        var shorter = reference.Prompt.Skip(2).ToArray();
        var batch = generator.GenerateIds(new[] { reference.Prompt, shorter }, options);
        Assert.Equal(reference.GreedyCached, batch[0]);
        Assert.Equal(generator.GenerateIds(new[] { shorter }, options)[0], batch[1]);
    }
}
