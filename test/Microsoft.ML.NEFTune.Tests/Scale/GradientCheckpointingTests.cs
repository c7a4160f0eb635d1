using Microsoft.ML.NEFTune.Lora;
using Microsoft.ML.NEFTune.Modeling;
using Microsoft.ML.NEFTune.Quantization;
using TorchSharp;
using static TorchSharp.torch;
using LoraApi = Microsoft.ML.NEFTune.Lora.LoraAdapters;

namespace Microsoft.ML.NEFTune.Tests.Scale;

/// <summary>Recomputing decoder layers in backward gives the plain path's loss and gradients.</summary>
public class GradientCheckpointingTests
{
    private static readonly long[] IdsData = { 1, 5, 9, 13, 17, 21, 25, 29, 3, 7, 11, 15, 19, 23, 27, 31 };

    /// <summary>Loss and gradients of every trainable parameter, by name, after one backward pass.</summary>
    private static (double Loss, Dictionary<string, Tensor> Grads) LossAndGradients(LlamaForCausalLM model, bool checkpointing, Generator? dropout)
    {
        model.train();
        model.Model.GradientCheckpointing = checkpointing;
        model.Model.CheckpointGenerators = dropout is null ? Array.Empty<Generator>() : new[] { dropout };
        foreach (var (_, p) in model.named_parameters()) p.grad = null;
        using var ids = tensor(IdsData).view(2, 8);
        using var labels = ids.clone();
        using var loss = model.Loss(ids, labels);
        loss.backward();
        var grads = model.named_parameters().Where(p => p.parameter.requires_grad)
            .ToDictionary(p => p.name, p => p.parameter.grad!.detach().clone());
        return (loss.ToDouble(), grads);
    }

    private static void AssertSameGradients(Dictionary<string, Tensor> expected, Dictionary<string, Tensor> actual, double tolerance)
    {
        Assert.Equal(expected.Keys.OrderBy(k => k), actual.Keys.OrderBy(k => k));
        foreach (var (name, e) in expected)
        {
            double scale = Math.Max(e.abs().max().ToDouble(), 1e-12);
            double diff = (e - actual[name]).abs().max().ToDouble();
            Assert.True(diff <= tolerance * scale, $"{name}: gradients differ by {diff:g3} (largest entry {scale:g3})");
        }
    }

    [Fact]
    public void FullFineTuningGradientsEqualThePlainPath()
    {
        using var model = TinyModels.Create(seed: 3, tied: false);
        var (plainLoss, plain) = LossAndGradients(model, checkpointing: false, dropout: null);
        var (loss, checkpointed) = LossAndGradients(model, checkpointing: true, dropout: null);
        Assert.Equal(plainLoss, loss, 6);
        Assert.Equal(model.named_parameters().Count(), checkpointed.Count);   // every layer parameter got a gradient
        AssertSameGradients(plain, checkpointed, 1e-5);
    }

    [Theory]
    [InlineData(BaseQuantization.None)]
    [InlineData(BaseQuantization.Nf4)]
    public void LoraGradientsWithDropoutEqualThePlainPath(BaseQuantization quantization)
    {
        using var model = TinyModels.Create(seed: 4);
        LoraApi.Apply(model, new LoraOptions { Rank = 4, Dropout = 0.25, TargetModules = LoraOptions.AllProjections, QuantizeBase = quantization }, seed: 5);
        using (no_grad())
            foreach (var (_, adapter) in LoraApi.Adapters(model)) adapter.LoraB.normal_(0, 0.05, new Generator(9));
        var dropout = LoraApi.DropoutGenerator(model)!;
        using var start = dropout.get_state();
        var (plainLoss, plain) = LossAndGradients(model, checkpointing: false, dropout);
        dropout.set_state(start);                                       // the same dropout masks for both passes
        var (loss, checkpointed) = LossAndGradients(model, checkpointing: true, dropout);
        Assert.Equal(plainLoss, loss, 6);
        Assert.Equal(LoraApi.AdapterParameters(model).Count, checkpointed.Count);
        AssertSameGradients(plain, checkpointed, 1e-5);
    }
}
