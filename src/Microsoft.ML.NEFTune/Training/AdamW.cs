using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Training;

/// <summary>
/// AdamW with decoupled weight decay (Loshchilov &amp; Hutter), the update of <c>torch.optim.AdamW</c>:
/// <c>p ← p·(1 − lr·wd); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε)</c>.
/// Its state is plain named tensors, so checkpoints store and restore it exactly.
/// </summary>
public sealed class AdamW : IDisposable
{
    private readonly List<(string Name, Parameter Param, bool Decay)> parameters;
    private readonly Dictionary<string, (Tensor M, Tensor V)> state = new();

    /// <param name="parameters">Named trainable parameters.</param>
    /// <param name="beta1">Decay of the first-moment average.</param>
    /// <param name="beta2">Decay of the second-moment average.</param>
    /// <param name="eps">Added to the root of the second moment.</param>
    /// <param name="weightDecay">Decoupled weight decay (multiplied by the learning rate).</param>
    /// <param name="noDecay">Parameters excluded from weight decay (by default norms and biases).</param>
    public AdamW(IEnumerable<(string Name, Parameter Param)> parameters, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0.0, Func<string, bool>? noDecay = null)
    {
        noDecay ??= DefaultNoDecay;
        this.parameters = parameters.Where(p => p.Param.requires_grad).Select(p => (p.Name, p.Param, !noDecay(p.Name))).ToList();
        Beta1 = beta1; Beta2 = beta2; Eps = eps; WeightDecay = weightDecay;
    }

    /// <summary>Norm weights and biases take no weight decay (HF Trainer's rule).</summary>
    public static bool DefaultNoDecay(string name) => name.EndsWith(".bias") || name.Contains("norm");

    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Eps { get; }
    public double WeightDecay { get; }

    /// <summary>Number of updates taken.</summary>
    public long Step { get; private set; }

    public IEnumerable<Parameter> Parameters => parameters.Select(p => p.Param);

    /// <summary>One update with learning rate <paramref name="lr"/>; parameters without a gradient are skipped.</summary>
    public void StepWith(double lr)
    {
        Step++;
        double bc1 = 1 - Math.Pow(Beta1, Step), bc2 = Math.Sqrt(1 - Math.Pow(Beta2, Step));
        // Scalars held in locals until the end of the update: a Scalar created implicitly for a call can be finalized, and
        // its native value freed, while libtorch still reads it (docs/reliability.md, "Known defect in TorchSharp").
        using Scalar decayFactor = 1 - lr * WeightDecay, beta2 = Beta2, vWeight = 1 - Beta2,
            correction2 = bc2, eps = Eps, stepSize = -lr / bc1;
        using var _ = no_grad();
        foreach (var (name, p, decay) in parameters)
        {
            using var scope = NewDisposeScope();
            var g = p.grad;                                         // a new handle each read: disposed with the scope
            if (g is null) continue;
            if (!state.TryGetValue(name, out var s))
            {
                s = (zeros_like(p).DetachFromDisposeScope(), zeros_like(p).DetachFromDisposeScope());
                state[name] = s;
            }
            if (decay && WeightDecay != 0) p.mul_(decayFactor);
            s.M.lerp_(g, 1 - Beta1);                                // m = β1·m + (1−β1)·g (a 0-d tensor of this step's scope)
            s.V.mul_(beta2).addcmul_(g, g, vWeight);                // v = β2·v + (1−β2)·g²
            var denom = s.V.sqrt().div_(correction2).add_(eps);
            p.addcdiv_(s.M, denom, stepSize);
        }
    }

    public void ZeroGrad()
    {
        using var scope = NewDisposeScope();
        foreach (var (_, p, _) in parameters) p.grad?.zero_();
    }

    /// <summary>State as named tensors: <c>NAME.exp_avg</c>, <c>NAME.exp_avg_sq</c> and a <c>step</c> scalar.</summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var dict = new Dictionary<string, Tensor> { ["step"] = tensor(Step) };
        foreach (var (name, (m, v)) in state)
        {
            dict[name + ".exp_avg"] = m;
            dict[name + ".exp_avg_sq"] = v;
        }
        return dict;
    }

    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> dict)
    {
        Step = dict["step"].item<long>();
        using var _ = no_grad();
        foreach (var (name, p, _) in parameters)
        {
            if (!dict.TryGetValue(name + ".exp_avg", out var m) || !dict.TryGetValue(name + ".exp_avg_sq", out var v)) continue;
            if (!state.TryGetValue(name, out var s))
            {
                s = (zeros_like(p).DetachFromDisposeScope(), zeros_like(p).DetachFromDisposeScope());
                state[name] = s;
            }
            s.M.copy_(m);
            s.V.copy_(v);
        }
    }

    public void Dispose()
    {
        foreach (var (m, v) in state.Values) { m.Dispose(); v.Dispose(); }
        state.Clear();
    }
}
