using Microsoft.ML.NEFTune.Quantization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Lora;

/// <summary>
/// A frozen linear layer plus a trainable low-rank update, PEFT's <c>lora.Linear</c>:
/// <c>y = base(x) + B(A(dropout(x))) · alpha / r</c>, with A (r×in) drawn kaiming-uniform (bound 1/√in, as PEFT)
/// and B (out×r) zero, so a fresh adapter leaves the output unchanged. Submodule names follow PEFT
/// (<c>base_layer</c>, <c>lora_A</c>, <c>lora_B</c>); the base is a <see cref="Linear"/> or a <see cref="QuantizedLinear"/>.
/// </summary>
public sealed class LoraLinear : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> base_layer;
    private readonly Linear lora_A;
    private readonly Linear lora_B;
    private readonly Generator? dropoutGenerator;

    /// <param name="baseLayer">The frozen layer: a <see cref="Linear"/> or a <see cref="QuantizedLinear"/>.</param>
    /// <param name="rank">Rank r.</param>
    /// <param name="alpha">Scale numerator (scale = alpha / r).</param>
    /// <param name="dropout">Dropout probability on the adapter input in training mode.</param>
    /// <param name="initGenerator">CPU generator for A's initialisation; null uses the global one.</param>
    /// <param name="dropoutGenerator">Generator for dropout masks; null uses the global one.</param>
    public LoraLinear(nn.Module<Tensor, Tensor> baseLayer, int rank, double alpha, double dropout, Generator? initGenerator = null, Generator? dropoutGenerator = null)
        : base(nameof(LoraLinear))
    {
        ArgumentNullException.ThrowIfNull(baseLayer);
        if (rank <= 0) throw new ArgumentOutOfRangeException(nameof(rank), rank, "The rank must be positive.");
        if (!(dropout >= 0 && dropout < 1)) throw new ArgumentOutOfRangeException(nameof(dropout), dropout, "Dropout must be in [0, 1).");
        (InFeatures, OutFeatures, var device) = baseLayer switch
        {
            Linear l => (l.weight!.shape[1], l.weight.shape[0], l.weight.device),
            QuantizedLinear q => (q.InFeatures, q.OutFeatures, q.Device),
            _ => throw new ArgumentException($"A LoRA base must be a Linear or a QuantizedLinear, not {baseLayer.GetType().Name}.", nameof(baseLayer)),
        };
        Rank = rank; Alpha = alpha; Dropout = dropout;
        base_layer = baseLayer;
        lora_A = nn.Linear(InFeatures, rank, hasBias: false, device: device);
        lora_B = nn.Linear(rank, OutFeatures, hasBias: false, device: device);
        this.dropoutGenerator = dropoutGenerator;
        using (no_grad())
        {
            double bound = 1.0 / Math.Sqrt(InFeatures);                                   // kaiming_uniform_(a=√5)
            using var a = empty(rank, InFeatures).uniform_(-bound, bound, initGenerator);   // drawn on the CPU: device-independent
            lora_A.weight!.copy_(a);
            lora_B.weight!.zero_();
        }
        RegisterComponents();
    }

    public long InFeatures { get; }
    public long OutFeatures { get; }
    public int Rank { get; }
    public double Alpha { get; }
    public double Dropout { get; }

    /// <summary>The factor applied to the adapter output, alpha / r.</summary>
    public double Scaling => Alpha / Rank;

    /// <summary>The frozen layer.</summary>
    public nn.Module<Tensor, Tensor> BaseLayer => base_layer;

    /// <summary>A (r, in).</summary>
    public Parameter LoraA => lora_A.weight!;

    /// <summary>B (out, r).</summary>
    public Parameter LoraB => lora_B.weight!;

    /// <summary>The frozen weight (out, in) in float32: a copy of a Linear's weight or the dequantized storage.</summary>
    public Tensor BaseWeight()
    {
        using var _ = no_grad();
        return base_layer switch
        {
            Linear l => l.weight!.detach().to_type(ScalarType.Float32).clone(),
            QuantizedLinear q => q.Dequantize(ScalarType.Float32),
            _ => throw new InvalidOperationException(),
        };
    }

    /// <summary>The frozen bias, or null.</summary>
    public Tensor? BaseBias => base_layer switch
    {
        Linear l => l.bias,
        QuantizedLinear q => q.Bias,
        _ => null,
    };

    /// <summary><c>W + B·A·alpha/r</c> (out, in), float32.</summary>
    public Tensor MergedWeight()
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var w = BaseWeight();
        var delta = LoraB.detach().to_type(ScalarType.Float32).matmul(LoraA.detach().to_type(ScalarType.Float32));
        return w.add_(delta, Scaling).MoveToOuterDisposeScope();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = base_layer.call(x);                                        // (..., out)
        var input = training && Dropout > 0 ? DropoutMask(x) : x;
        var update = lora_B.call(lora_A.call(input));                      // (..., out)
        return y.add(update, Scaling).MoveToOuterDisposeScope();
    }

    private Tensor DropoutMask(Tensor x)
    {
        Tensor keep;
        using (no_grad()) keep = empty_like(x).bernoulli_(1 - Dropout, dropoutGenerator).div_(1 - Dropout);
        return x * keep;
    }
}
