using Microsoft.ML.NEFTune.Modeling;
using Microsoft.ML.NEFTune.Noise;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.Noise;

public class NoisyModelTests
{
    private static readonly Tensor Ids = tensor(new long[] { 1, 5, 9, 13, 17, 21, 25, 29 }).view(1, 8);

    [Fact]
    public void EvaluationModeAddsNoNoise()
    {
        using var model = TinyModels.Create();
        model.eval();
        using var _ = no_grad();
        using var clean = model.forward(Ids);
        model.Model.EmbeddingTransform = new NeftuneNoise(new NeftuneOptions { Alpha = 50 }, 1);
        using var withNoiseAttached = model.forward(Ids);
        Assert.True(clean.allclose(withNoiseAttached, rtol: 0, atol: 0));
        model.train();
        using var noisy = model.forward(Ids);
        Assert.False(clean.allclose(noisy, atol: 1e-3));
    }

    [Fact]
    public void GradientsEqualThoseOfTheCleanForwardAtTheNoisyInput()
    {
        using var model = TinyModels.Create();
        model.train();
        var options = new NeftuneOptions { Alpha = 5 };
        model.Model.EmbeddingTransform = new NeftuneNoise(options, seed: 11);
        using var labels = Ids.clone();
        model.Loss(Ids, labels).backward();
        using var noisyGrad = model.Model.EmbeddingWeight.grad!.clone();

        // Reference: the same noise drawn separately, the embeddings made a leaf, the clean stack run from there.
        model.zero_grad();
        model.Model.EmbeddingTransform = null;
        using var reference = new NeftuneNoise(options, seed: 11);
        using var embeds = model.Model.EmbeddingWeight.detach().index_select(0, Ids.flatten()).view(1, 8, -1);
        using var leaf = (embeds + reference.Sample(embeds, null)).requires_grad_();
        using var logits = model.ForwardEmbeddings(leaf);
        var (sum, count) = model.LossSum(logits, labels);
        (sum / count).backward();
        // d loss / d W: the head's own contribution (tied embeddings) plus each input row's gradient.
        using var expected = model.Model.EmbeddingWeight.grad!.index_add(0, Ids.flatten(), leaf.grad!.view(8, -1), 1.0);
        Assert.True(noisyGrad.allclose(expected, rtol: 1e-4, atol: 1e-6));
    }

    [Fact]
    public void NoiseChangesNoParameterName()
    {
        using var model = TinyModels.Create();
        var before = model.named_parameters().Select(p => p.name).ToList();
        model.Model.EmbeddingTransform = new NeftuneNoise(new NeftuneOptions(), 1);
        Assert.Equal(before, model.named_parameters().Select(p => p.name).ToList());
        Assert.Contains("model.embed_tokens.weight", before);
    }

    /// <summary>A user model that is not this library's Llama and calls its embedding through forward().</summary>
    private sealed class OtherLM : nn.Module<Tensor, Tensor>
    {
        private nn.Module<Tensor, Tensor> embed_tokens = nn.Embedding(16, 8);
        private readonly Linear head = nn.Linear(8, 16);
        public OtherLM() : base(nameof(OtherLM)) => RegisterComponents();
        public override Tensor forward(Tensor ids) => head.forward(embed_tokens.forward(ids));
    }

    [Fact]
    public void AttachWorksOnAnyModelThatCallsForwardDirectlyAndKeepsKeys()
    {
        using var model = new OtherLM();
        var keys = model.state_dict().Keys.ToList();
        using var ids = tensor(new long[] { 1, 2, 3 }).view(1, 3);
        model.eval();
        using var clean = model.forward(ids);
        var wrapper = Neftune.Attach(model, "embed_tokens", new NeftuneNoise(new NeftuneOptions { Alpha = 50 }, 1));
        Assert.Equal(keys, model.state_dict().Keys.ToList());
        using (var evalOut = model.forward(ids)) Assert.True(clean.allclose(evalOut));
        model.train();
        using var noisy = model.forward(ids);
        Assert.False(clean.allclose(noisy, atol: 1e-3));
        Assert.Same(wrapper, model.named_children().First(c => c.name == "embed_tokens").module);
    }

    [Fact]
    public void LlamaEmbeddingCanBeReplacedByTheNoisyEmbeddingKeepingKeysAndLogits()
    {
        using var model = TinyModels.Create();
        model.eval();
        var keys = model.state_dict().Keys.ToList();
        using var _ = no_grad();
        using var clean = model.forward(Ids);
        var embedding = (Embedding)model.Model.EmbedTokens;
        model.Model.ReplaceEmbedding(new NeftuneEmbedding(embedding, new NeftuneNoise(new NeftuneOptions { Alpha = 50 }, 1)));
        Assert.Equal(keys, model.state_dict().Keys.ToList());
        using var evalOut = model.forward(Ids);
        Assert.True(clean.allclose(evalOut, rtol: 0, atol: 0));
        model.train();
        Assert.True(model.Model.EmbedTokens.training);
        using var noisy = model.forward(Ids);
        Assert.False(clean.allclose(noisy, atol: 1e-3));
    }
}
