using Microsoft.ML.NEFTune.Data;

namespace Microsoft.ML.NEFTune.Training;

/// <summary>Everything a fine-tuning run from files needs: model, data, template and trainer settings.</summary>
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

    /// <summary>Template name (<c>alpaca</c>, <c>llama2-chat</c>, <c>chatml</c>, <c>vicuna</c>) or a template file. Default alpaca.</summary>
    public string Template { get; init; } = "alpaca";

    /// <summary>Validation data file; when null, <see cref="ValidationSplit"/> of the training data is held out.</summary>
    public string? ValidationDataPath { get; init; }

    /// <summary>Fraction of the training data held out for validation (seeded) when no validation file is given. Default 0.</summary>
    public double ValidationSplit { get; init; }

    /// <summary>Tokens per example (prompt + response); longer examples are truncated or dropped. Default 512.</summary>
    public int MaxLength { get; init; } = 512;

    /// <summary>How over-long examples are handled. Default: cut the response's end.</summary>
    public TruncationMode Truncation { get; init; } = TruncationMode.TruncateResponse;

    /// <summary>Take the loss on prompt tokens too. Default false (response-only loss).</summary>
    public bool TrainOnPrompt { get; init; }

    /// <summary>Trainer settings (noise, optimizer, schedule, output folder…).</summary>
    public TrainingOptions Training { get; init; } = new();

    /// <summary>Resume from this output or checkpoint folder.</summary>
    public string? ResumeFrom { get; init; }
}
