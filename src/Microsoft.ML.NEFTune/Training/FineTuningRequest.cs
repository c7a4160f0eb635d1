using Microsoft.ML.NEFTune.Data;

namespace Microsoft.ML.NEFTune.Training;

/// <summary>Everything a fine-tuning run from files needs: where the model, tokenizer and data are, and the run's settings.</summary>
public sealed record FineTuningRequest
{
    /// <summary>A Hugging Face model directory or a llama2.c <c>.bin</c> file.</summary>
    public required string ModelPath { get; init; }

    /// <summary>Tokenizer file or folder; null = the model directory's own.</summary>
    public string? TokenizerPath { get; init; }

    /// <summary>Training data file (JSON, JSONL or text).</summary>
    public required string DataPath { get; init; }

    /// <summary>More training files of the same layout, read after <see cref="DataPath"/> (e.g. several text corpora).</summary>
    public IReadOnlyList<string> AdditionalDataPaths { get; init; } = Array.Empty<string>();

    /// <summary>Record layout; null detects it from the fields.</summary>
    public DataFormat? Format { get; init; }

    /// <summary>Validation data file; when null, <see cref="TrainingOptions.ValidationFraction"/> of the training data is held out.</summary>
    public string? ValidationDataPath { get; init; }

    /// <summary>The run's settings (template, lengths, noise, optimizer, schedule, output folder…).</summary>
    public TrainingOptions Training { get; init; } = new();

    /// <summary>Resume from this output or checkpoint folder.</summary>
    public string? ResumeFrom { get; init; }
}
