namespace Microsoft.ML.NEFTune.Quantization;

/// <summary>How the frozen linear layers of a base model are stored.</summary>
public enum BaseQuantization
{
    /// <summary>Unchanged floating-point weights.</summary>
    None,

    /// <summary>int8 with one absmax scale per output channel (<see cref="Int8Linear"/>).</summary>
    Int8,

    /// <summary>4-bit NormalFloat with one absmax per block of 64 weights (<see cref="Nf4Linear"/>), the QLoRA data type.</summary>
    Nf4,
}
