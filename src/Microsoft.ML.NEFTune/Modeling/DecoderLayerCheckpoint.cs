using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>
/// Activation checkpointing of one decoder layer (what <c>torch.utils.checkpoint</c> does, which TorchSharp lacks),
/// as a custom autograd function: the forward pass runs the layer without recording a graph and keeps only its
/// inputs; the backward pass runs the layer again with the graph recorded, from the same random-number states, and
/// back-propagates through it. Parameter gradients accumulate into the layer's parameters during that inner
/// backward; the function itself returns the gradient of the layer input. One layer's activations are alive at a
/// time, at the cost of a second forward pass per layer.
/// </summary>
internal sealed class DecoderLayerCheckpoint : autograd.SingleTensorFunction<DecoderLayerCheckpoint>
{
    public override string Name => nameof(DecoderLayerCheckpoint);

    /// <summary>Runs <paramref name="layer"/> on <paramref name="x"/> (which must require a gradient) checkpointed.</summary>
    /// <param name="layer">The decoder layer to run.</param>
    /// <param name="x">(B, T, C) layer input; it must require a gradient.</param>
    /// <param name="cos">Rotary cosines for the positions.</param>
    /// <param name="sin">Rotary sines for the positions.</param>
    /// <param name="mask">Attention mask, or null for plain causal attention.</param>
    /// <param name="generators">Generators the layer may draw from (e.g. dropout); their states are replayed in the recomputation.</param>
    public static Tensor Run(LlamaDecoderLayer layer, Tensor x, Tensor cos, Tensor sin, Tensor? mask, IReadOnlyList<Generator> generators) =>
        apply(x, cos, sin, mask!, layer, generators);

    /// <param name="ctx">Autograd context.</param>
    /// <param name="vars">x (B, T, C), cos, sin, mask (or null), the layer, the generators.</param>
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (x, cos, sin, mask) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], vars[3] as Tensor);
        var layer = (LlamaDecoderLayer)vars[4];
        var generators = (IReadOnlyList<Generator>)vars[5];
        ctx.save_for_backward(new List<Tensor> { x, cos, sin, mask! });
        ctx.save_data("layer", layer);
        ctx.save_data("generators", generators);
        ctx.save_data("states", generators.Select(g => g.get_state().DetachFromDisposeScope()).ToList());   // before the layer draws; outlives scopes
        return layer.forward(x, cos, sin, mask, null);                            // (B, T, C), no graph kept
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        var saved = ctx.get_saved_variables();
        var layer = (LlamaDecoderLayer)ctx.get_data("layer");
        var generators = (IReadOnlyList<Generator>)ctx.get_data("generators");
        var states = (List<Tensor>)ctx.get_data("states");
        var after = generators.Select(g => g.get_state()).ToList();
        Tensor dx;
        using (var scope = NewDisposeScope())
        {
            for (int i = 0; i < generators.Count; i++) generators[i].set_state(states[i]);   // replay the forward's draws
            using (enable_grad())
            {
                var input = saved[0].detach().requires_grad_(true);                          // (B, T, C)
                var y = layer.forward(input, saved[1], saved[2], saved[3] is { IsInvalid: false } m ? m : null, null);
                autograd.backward(new[] { y }, new[] { grad_output });                       // parameter gradients accumulate here
                dx = input.grad!.detach().MoveToOuterDisposeScope();
            }
            for (int i = 0; i < generators.Count; i++) generators[i].set_state(after[i]);
        }
        foreach (var t in states.Concat(after)) t.Dispose();
        return new List<Tensor> { dx, null!, null!, null!, null!, null! };
    }
}
