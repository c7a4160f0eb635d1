using Microsoft.ML.NEFTune.Benchmarks;

namespace Microsoft.ML.NEFTune.Tests.Lora;

/// <summary>
/// The bytes of the LoRA benchmark's setups (<see cref="LoraBenchmark"/>, whose times are shown by
/// <c>neftune bench --lora-table</c>, not judged here) on the tiny model: quantized bases store fewer bytes and still train.
/// </summary>
public class QuantizedBaseMemoryTests
{
    [Fact]
    public void QuantizedBasesStoreFewerBytesAndStillTrain()
    {
        var rows = LoraBenchmark.Run(TinyModels.Config(), batch: 2, length: 16, rounds: 1, steps: 1);
        Assert.InRange((double)rows[3].DecoderLinearBytes / rows[1].DecoderLinearBytes, 0.5625 / 4, 0.15);   // NF4: 0.5625 bytes per weight
        Assert.InRange((double)rows[2].DecoderLinearBytes / rows[1].DecoderLinearBytes, 0.25, 0.30);         // int8: 1 byte + per-row scales
        Assert.True(rows[1].TrainableParameters < rows[0].TrainableParameters);
    }
}
