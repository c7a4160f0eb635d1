namespace Microsoft.ML.NEFTune.Noise;

/// <summary>Which sequence length <c>L</c> enters the noise scale <c>alpha / sqrt(L·d)</c>.</summary>
public enum NeftuneScaling
{
    /// <summary>
    /// L is each sequence's own number of real (non-padding) tokens and padding receives no noise, as in the
    /// NEFTune authors' experiment code. With packing, each packed example has its own L.
    /// </summary>
    PerSequence,

    /// <summary>L is the padded length of the batch and every position, padding included, receives noise, as Hugging
    /// Face's <c>neftune_noise_alpha</c> does.</summary>
    PaddedLength,
}
