using System.Text.Json;
using Microsoft.ML.NEFTune.Generation;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.Modeling;

/// <summary>
/// Tiny random OPT checkpoints in both real key layouts against float64 outputs written by
/// <c>eng/reference/opt_reference.py</c> from the semantics of transformers' <c>modeling_opt.py</c>.
/// </summary>
public class OptReferenceTests
{
    public static TheoryData<string> Cases => new() { "pre-ln", "post-ln-project" };

    internal static string CaseDirectory(string name) => Path.Combine(RepositoryFiles.Root, "test", "Microsoft.ML.NEFTune.Tests", "References", "opt", name);

    private static JsonElement Reference(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepositoryFiles.Root, "test", "Microsoft.ML.NEFTune.Tests", "References", "opt", "reference.json")));
        return doc.RootElement.GetProperty(name).Clone();
    }

    private static long[] Ids(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt64()).ToArray();
    private static double[] Flat(JsonElement e) => e.EnumerateArray().SelectMany(r => r.EnumerateArray().Select(x => x.GetDouble())).ToArray();

    [Theory, MemberData(nameof(Cases))]
    public void LogitsMatchTheFloat64Reference(string name)
    {
        var reference = Reference(name);
        using var model = HuggingFaceCheckpoint.Load(CaseDirectory(name));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var ids = tensor(Ids(reference.GetProperty("input_ids"))).unsqueeze(0);
        var logits = model.forward(ids)[0].to_type(ScalarType.Float64);                     // (T, V)
        var expected = tensor(Flat(reference.GetProperty("logits"))).view(logits.shape);
        Assert.InRange((logits - expected).abs().max().item<double>(), 0, 1e-4);
    }

    [Theory, MemberData(nameof(Cases))]
    public void GreedyIdsMatchWithAndWithoutTheCache(string name)
    {
        var reference = Reference(name);
        using var model = HuggingFaceCheckpoint.Load(CaseDirectory(name));
        var generator = new TextGenerator(model);
        var prompt = Ids(reference.GetProperty("greedy_prompt"));
        var expected = Ids(reference.GetProperty("greedy"));
        foreach (var cache in new[] { true, false })
        {
            var options = new GenerationOptions { MaxNewTokens = expected.Length, EosTokenIds = Array.Empty<int>(), UseCache = cache };
            Assert.Equal(expected, generator.GenerateIds(new[] { prompt }, options)[0]);
        }
    }

    [Theory, MemberData(nameof(Cases))]
    public void APromptEndingInEosIsNotFinished(string name)
    {
        // OPT's BOS is </s> = EOS: the prompt [</s>] must still be continued.
        var reference = Reference(name);
        using var model = HuggingFaceCheckpoint.Load(CaseDirectory(name));
        Assert.Equal(2, model.Config.BosTokenId);
        Assert.Equal(new[] { 2 }, model.Config.EosTokenIds);
        var expected = Ids(reference.GetProperty("greedy_from_bos"));
        var generated = new TextGenerator(model).GenerateIds(new[] { new long[] { 2 } }, new GenerationOptions { MaxNewTokens = expected.Length })[0];
        Assert.Equal(expected.TakeWhile(t => t != 2), generated);
        Assert.NotEmpty(generated);
    }

    [Theory, MemberData(nameof(Cases))]
    public void LeftPaddedBatchMatchesTheReferenceMaskedPositions(string name)
    {
        var reference = Reference(name);
        using var model = HuggingFaceCheckpoint.Load(CaseDirectory(name));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var prompts = reference.GetProperty("padded_prompts").EnumerateArray().Select(Ids).ToArray();
        long T = prompts.Max(p => p.Length);
        var ids = zeros(prompts.Length, T, ScalarType.Int64);
        var seq = zeros(prompts.Length, T, ScalarType.Int64);
        for (int b = 0; b < prompts.Length; b++)
        {
            long pad = T - prompts[b].Length;
            ids[b].narrow(0, 0, pad).fill_(1);
            ids[b].narrow(0, pad, prompts[b].Length).copy_(tensor(prompts[b]));
            seq[b].narrow(0, pad, prompts[b].Length).fill_(1);
        }
        var last = model.forward(ids, seq).select(1, -1).to_type(ScalarType.Float64);        // (B, V)
        var expected = tensor(Flat(reference.GetProperty("padded_last_logits"))).view(last.shape);
        Assert.InRange((last - expected).abs().max().item<double>(), 0, 1e-4);
    }

    [Fact]
    public void BothKeyLayoutsLoadUnderTheHuggingFaceNames()
    {
        using var tied = HuggingFaceCheckpoint.Load(CaseDirectory("pre-ln"));               // model.decoder.* + lm_head.weight
        using var bare = HuggingFaceCheckpoint.Load(CaseDirectory("post-ln-project"));      // decoder.*, no head
        foreach (var model in new[] { tied, bare })
        {
            var names = model.named_parameters().Select(p => p.name).ToList();
            Assert.Contains("model.decoder.embed_tokens.weight", names);
            Assert.Contains("model.decoder.embed_positions.weight", names);
            Assert.Contains("model.decoder.layers.1.self_attn.out_proj.bias", names);
            Assert.DoesNotContain("lm_head.weight", names);
        }
        var bareNames = bare.named_parameters().Select(p => p.name).ToList();
        Assert.Contains("model.decoder.project_in.weight", bareNames);
        Assert.DoesNotContain("model.decoder.final_layer_norm.weight", bareNames);
        Assert.Contains("model.decoder.final_layer_norm.weight", tied.named_parameters().Select(p => p.name));
    }

    [Fact]
    public void SavedModelReloadsWithIdenticalLogits()
    {
        using var temp = new TempDirectory();
        using var model = HuggingFaceCheckpoint.Load(CaseDirectory("post-ln-project"));
        HuggingFaceCheckpoint.Save(model, temp.Path);
        using var reloaded = HuggingFaceCheckpoint.Load(temp.Path);
        Assert.Equal("opt", reloaded.Config.ModelType);
        Assert.Equal(16, reloaded.Config.EmbeddingSize);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var ids = tensor(new long[] { 2, 5, 9, 13, 7 }).unsqueeze(0);
        Assert.True(model.forward(ids).equal(reloaded.forward(ids)).all().item<bool>());
    }
}
