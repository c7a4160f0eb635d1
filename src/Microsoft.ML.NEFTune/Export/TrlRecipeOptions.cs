using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Export;

/// <summary>Which <c>accelerate</c> configuration <c>train.py</c> is launched with.</summary>
public enum AccelerateProfile
{
    /// <summary>One GPU, no distribution.</summary>
    SingleGpu,

    /// <summary>Data parallel over the GPUs of one machine (DDP).</summary>
    MultiGpu,

    /// <summary>PyTorch FSDP2: parameters, gradients and optimizer state sharded over the GPUs.</summary>
    Fsdp2,

    /// <summary>DeepSpeed ZeRO stage 3: the same sharding through DeepSpeed.</summary>
    Zero3,
}

/// <summary>What <see cref="TrlRecipe.Write(TrlRecipeOptions)"/> exports: a model, its data and the fine-tuning settings.</summary>
public sealed record TrlRecipeOptions
{
    /// <summary>The model to continue from: a Hugging Face folder (a fine-tuned output of this library works).</summary>
    public required string ModelPath { get; init; }

    /// <summary>Tokenizer file or folder; default the model folder's.</summary>
    public string? TokenizerPath { get; init; }

    /// <summary>A PEFT LoRA adapter folder to continue training (copied to <c>adapter/</c>); null for full fine-tuning.</summary>
    public string? AdapterPath { get; init; }

    /// <summary>Training data (any format <see cref="DatasetReader"/> reads).</summary>
    public required string DataPath { get; init; }

    /// <summary>Validation data, written as <c>data/validation.jsonl</c>; null for none.</summary>
    public string? ValidationDataPath { get; init; }

    /// <summary>Data format; null = detect.</summary>
    public DataFormat? Format { get; init; }

    /// <summary>
    /// The job's settings, carried over: the template (applied before export, so the JSONL holds the templated text),
    /// the maximum length, the hyperparameters and the noise (alpha and kind; per-sequence scaling). Default: the
    /// library's defaults.
    /// </summary>
    public TrainingOptions Training { get; init; } = new();

    /// <summary>The <c>accelerate</c> profile the launch command names. Default <see cref="AccelerateProfile.SingleGpu"/>.</summary>
    public AccelerateProfile Accelerate { get; init; } = AccelerateProfile.SingleGpu;

    /// <summary>The recipe folder.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>Throws an exception naming the first invalid setting.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ModelPath)) throw new ArgumentException("ModelPath is required.", nameof(ModelPath));
        if (!Directory.Exists(ModelPath)) throw new DirectoryNotFoundException($"ModelPath must be a Hugging Face model folder: {ModelPath}");
        if (string.IsNullOrWhiteSpace(DataPath)) throw new ArgumentException("DataPath is required.", nameof(DataPath));
        if (AdapterPath is not null && !File.Exists(Path.Combine(AdapterPath, "adapter_config.json")))
            throw new ArgumentException($"AdapterPath has no adapter_config.json: {AdapterPath}", nameof(AdapterPath));
        if (string.IsNullOrWhiteSpace(OutputDirectory)) throw new ArgumentException("OutputDirectory is required.", nameof(OutputDirectory));
        if (!Enum.IsDefined(Accelerate)) throw new ArgumentOutOfRangeException(nameof(Accelerate), Accelerate, "is not an accelerate profile");
        ArgumentNullException.ThrowIfNull(Training, nameof(Training));
        Training.Validate();
        if (Training.Noise.KindName is not ("uniform" or "gaussian"))
            throw new ArgumentException($"The exported hook implements the uniform and gaussian noise kinds only; '{Training.Noise.KindName}' cannot be exported.", nameof(Training));
        if (Training.Noise.Scaling != Noise.NeftuneScaling.PerSequence)
            throw new ArgumentException("The exported hook implements per-sequence scaling only; for padded-length scaling use TRL's own neftune_noise_alpha, which scales by the padded batch length.", nameof(Training));
    }
}
