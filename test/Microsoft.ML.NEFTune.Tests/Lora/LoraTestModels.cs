using Microsoft.ML.NEFTune.Modeling;
using TorchSharp;
using static TorchSharp.torch;
using LoraApi = Microsoft.ML.NEFTune.Lora.LoraAdapters;

namespace Microsoft.ML.NEFTune.Tests.Lora;

/// <summary>Inputs and helpers shared by the LoRA tests.</summary>
internal static class LoraTestModels
{
    public static Tensor Ids() => tensor(new long[] { 1, 5, 9, 13, 17, 21, 25, 29, 3, 7, 11, 15, 19, 23, 27, 31 }).view(2, 8);

    /// <summary>Logits (2, 8, V) in evaluation mode.</summary>
    public static Tensor Logits(LlamaForCausalLM model)
    {
        model.eval();
        using var _ = no_grad();
        using var ids = Ids();
        return model.forward(ids);
    }

    /// <summary>Gives every B a non-zero value, so the adapters change the output.</summary>
    public static void RandomizeAdapters(LlamaForCausalLM model, long seed)
    {
        var generator = new Generator((ulong)seed);
        using var _ = no_grad();
        foreach (var (_, adapter) in LoraApi.Adapters(model)) adapter.LoraB.normal_(0, 0.05, generator);
    }

    /// <summary>Copies of all parameters and buffers by name.</summary>
    public static Dictionary<string, Tensor> Snapshot(nn.Module model) =>
        model.named_parameters().Select(p => (p.name, (Tensor)p.parameter))
            .Concat(model.named_buffers().Select(b => (b.name, b.buffer)))
            .ToDictionary(x => x.Item1, x => x.Item2.detach().clone());

    public static double MaxAbsDifference(Tensor a, Tensor b)
    {
        using var d = (a.to_type(ScalarType.Float32) - b.to_type(ScalarType.Float32)).abs().max();
        return d.ToDouble();
    }
}
