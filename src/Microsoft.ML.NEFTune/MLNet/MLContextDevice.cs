using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.NEFTune;

/// <summary>
/// Chooses the device of a NEFTune step as ML.NET's own TorchSharp trainers do: an explicit device setting, else
/// <c>cuda:N</c> when <see cref="MLContext.GpuDeviceId"/> is N, else the CPU. When CUDA is asked for and missing,
/// <see cref="MLContext.FallbackToCpu"/> decides between the CPU (with a warning on the context's log) and an error.
/// </summary>
internal static class MLContextDevice
{
    /// <param name="mlContext">The context whose GPU settings apply.</param>
    /// <param name="device">An explicit device (<c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>), or null to follow the context.</param>
    /// <param name="channel">Where the fallback warning goes.</param>
    /// <param name="cudaDeviceCount">How many GPUs CUDA sees; null for TorchSharp's answer.</param>
    public static string Resolve(MLContext mlContext, string? device, IChannel? channel, Func<int>? cudaDeviceCount = null)
    {
        string setting = device is not null ? $"{nameof(NeftuneInstructionTuningOptions)}.{nameof(NeftuneInstructionTuningOptions.Device)}"
            : mlContext.GpuDeviceId is not null ? $"{nameof(MLContext)}.{nameof(MLContext.GpuDeviceId)}" : "Device";
        string requested = device ?? (mlContext.GpuDeviceId is int id ? $"cuda:{id}" : ComputeDevice.Cpu);
        var chosen = ComputeDevice.Require(requested, mlContext.FallbackToCpu, setting, cudaDeviceCount ?? ComputeDevice.CudaDeviceCount, out var fellBack);
        if (fellBack is not null) channel?.Warning(MessageSensitivity.None, fellBack);
        return chosen;
    }
}
