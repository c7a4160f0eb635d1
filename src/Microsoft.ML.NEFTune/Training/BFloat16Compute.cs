using Microsoft.ML.NEFTune.Lora;
using Microsoft.ML.NEFTune.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Training;

/// <summary>
/// bfloat16 compute over float32 master weights (TorchSharp has no autocast): a bfloat16 copy of the model runs
/// forward and backward; before each step it receives the master weights, and after each micro-batch its gradients are
/// added to the master gradients in float32 (and zeroed), so gradient accumulation over micro-batches happens in float32,
/// where the optimizer works. A master with LoRA adapters gets a copy with the same
/// adapters; its frozen weights are copied once, a quantized base is shared rather than copied.
/// </summary>
internal sealed class BFloat16Compute : IDisposable
{
    private readonly List<(Parameter Master, Parameter Copy)> pairs;

    public BFloat16Compute(LlamaForCausalLM master)
    {
        Model = new LlamaForCausalLM(master.Config, ScalarType.BFloat16);   // never a second float32 copy
        if (Lora.LoraAdapters.HasAdapters(master)) Lora.LoraAdapters.MirrorLayout(Model, master);
        Model.to(ScalarType.BFloat16).to(master.Model.EmbeddingWeight.device);
        var copies = Model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var all = master.named_parameters().Select(p => (p.parameter, copies[p.name])).ToList();
        pairs = all.Where(p => p.Item1.requires_grad).ToList();
        using var _ = no_grad();
        foreach (var (m, copy) in all.Where(p => !p.Item1.requires_grad)) copy.copy_(m);
    }

    public LlamaForCausalLM Model { get; }

    /// <summary>Copies the trainable master weights (frozen ones were copied once at construction).</summary>
    public void CopyWeightsFromMaster()
    {
        using var _ = no_grad();
        foreach (var (master, copy) in pairs) copy.copy_(master);
    }

    /// <summary>Adds the copy's bfloat16 gradients to the float32 master gradients and zeroes the copy's.</summary>
    public void AccumulateGradientsIntoMaster()
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        using Scalar one = 1;   // held: see AdamW.StepWith
        foreach (var (master, copy) in pairs)
        {
            if (copy.grad is null) continue;
            if (master.grad is null) master.grad = copy.grad.to_type(ScalarType.Float32).DetachFromDisposeScope();
            else master.grad.add_(copy.grad, one);
            copy.grad.zero_();
        }
    }

    public void Dispose() => Model.Dispose();
}
