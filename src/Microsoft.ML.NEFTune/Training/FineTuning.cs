using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.IO.Tokenizers;
using Microsoft.ML.NEFTune.Modeling;

namespace Microsoft.ML.NEFTune.Training;

/// <summary>
/// The one path from records to a tuned model, shared by the <c>neftune train</c> and <c>compare</c> commands and
/// the ML.NET estimator: <see cref="Prepare"/> turns records into token rows (template, response-only labels,
/// truncation report, split, padding id and vocabulary check, each decided here only), and <see cref="Train"/> runs
/// the trainer on them. <see cref="Run"/> does both from files.
/// </summary>
public static class FineTuning
{
    /// <summary>
    /// Renders, tokenizes and splits the records. The validation records are <paramref name="validation"/> when given,
    /// else a seeded <see cref="TrainingOptions.ValidationFraction"/> of <paramref name="train"/>.
    /// </summary>
    /// <param name="train">Training records (instruction examples or plain-text documents).</param>
    /// <param name="validation">Validation records of the same kind, or null.</param>
    /// <param name="tokenizer">The tokenizer; it must fit the model (<see cref="TextTokenizer.VocabularyMismatch"/>).</param>
    /// <param name="config">The configuration of the model that will be trained.</param>
    /// <param name="options">Template, maximum length, truncation, prompt loss, validation fraction and seed are read.</param>
    /// <param name="log">Receives one line per data set with its tokenization report.</param>
    /// <exception cref="ModelFormatException">The tokenizer has ids the model has no embedding for.</exception>
    /// <exception cref="DataFormatException">No training example is left after tokenization.</exception>
    public static PreparedData Prepare(Dataset train, Dataset? validation, TextTokenizer tokenizer, LlamaConfig config, TrainingOptions options, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (tokenizer.VocabularyMismatch(config.VocabSize) is { } mismatch) throw new ModelFormatException(tokenizer.SourcePath, mismatch);
        var template = PromptTemplate.Resolve(options.Template, tokenizer);
        if (template is Data.Templates.ModelPromptTemplate) log?.Invoke("Template: the model's chat template (assistant turns trained)");
        else if (options.Template.Trim().Equals(Data.Templates.ModelPromptTemplate.TemplateName, StringComparison.OrdinalIgnoreCase)) log?.Invoke("Template: alpaca (the model has no chat template)");
        var encoder = new ExampleTokenizer(tokenizer, template, new ExampleTokenizerOptions { MaxLength = options.MaxLength, Truncation = options.Truncation, TrainOnPrompt = options.TrainOnPrompt });

        TokenizationResult trainRows;
        TokenizationResult? validationRows = null;
        IReadOnlyList<InstructionExample> trainExamples = Array.Empty<InstructionExample>(), validationExamples = Array.Empty<InstructionExample>();
        if (train.Format == DataFormat.Text)
        {
            var (trainDocs, heldDocs) = validation is not null ? (train.Documents, validation.Documents) : Split(train.Documents, options);
            trainRows = encoder.TokenizeDocuments(trainDocs);
            if (heldDocs.Count > 0) validationRows = encoder.TokenizeDocuments(heldDocs);
        }
        else
        {
            (trainExamples, validationExamples) = validation is not null ? (train.Examples, validation.Examples) : Split(train.Examples, options);
            trainRows = encoder.Tokenize(trainExamples);
            if (validationExamples.Count > 0) validationRows = encoder.Tokenize(validationExamples);
        }
        log?.Invoke($"Training examples: {trainRows.Report}");
        if (validationRows is not null) log?.Invoke($"Validation examples: {validationRows.Report}");
        if (trainRows.Examples.Count == 0) throw new DataFormatException(train.Path, "no training example is left after tokenization (all were dropped; see the report above)");
        return new PreparedData(trainRows.Examples, validationRows?.Examples ?? Array.Empty<TokenizedExample>(), trainRows.Report, validationRows?.Report,
            trainExamples, validationExamples, template, tokenizer, tokenizer.PaddingId(config.PadTokenId));
    }

    /// <summary>
    /// Trains <paramref name="model"/> in place on <paramref name="data"/> (NEFTune noise, optimizer, schedule,
    /// evaluation, checkpoints and the final save as <paramref name="options"/> say). Returns when training ends, stops
    /// early, or is cancelled; the model is then in evaluation mode with no noise attached.
    /// </summary>
    /// <param name="data">Rows from <see cref="Prepare"/>.</param>
    /// <param name="model">The model to tune (float32 master weights); the model <see cref="Prepare"/> was given the configuration of.</param>
    /// <param name="options">Trainer settings; the same seed as for <see cref="Prepare"/>.</param>
    /// <param name="progress">Reports after each logged step and each evaluation, on the training thread.</param>
    /// <param name="cancellationToken">Checked at every step boundary; a cancelled run writes a checkpoint and reports <see cref="TrainingResult.Cancelled"/>.</param>
    /// <param name="resumeFrom">An output or checkpoint folder to continue from; null = start fresh.</param>
    /// <param name="stopRequested">Polled wherever <paramref name="cancellationToken"/> is checked, for hosts that signal cancellation with a flag (ML.NET).</param>
    /// <param name="log">Receives one-line notes about how the run computes (e.g. a bfloat16 request served in float32).</param>
    public static TrainingResult Train(PreparedData data, LlamaForCausalLM model, TrainingOptions options, IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellationToken = default, string? resumeFrom = null, Func<bool>? stopRequested = null, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        if (data.Tokenizer.VocabularyMismatch(model.Config.VocabSize) is { } mismatch) throw new ModelFormatException(data.Tokenizer.SourcePath, mismatch);
        using var trainer = new NeftuneTrainer(model, data.Train, data.Validation, options, data.PadId, data.TokenizerDirectory);
        if (trainer.ComputeNote is not null) log?.Invoke("note: " + trainer.ComputeNote);
        if (resumeFrom is not null) trainer.ResumeFrom(resumeFrom);
        return trainer.Train(progress, cancellationToken, stopRequested);
    }

    /// <summary>A fine-tuning run from files: loads tokenizer, data and model, then <see cref="Prepare"/> and <see cref="Train"/>.</summary>
    /// <param name="request">What to tune on what.</param>
    /// <param name="progress">Reports after each logged step and evaluation.</param>
    /// <param name="cancellationToken">Stops at the next step boundary and writes a checkpoint.</param>
    /// <param name="log">Receives one-line notes about the data.</param>
    /// <param name="before">Called with the loaded, untrained model (e.g. to sample generations before training).</param>
    public static FineTuningResult Run(FineTuningRequest request, IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellationToken = default, Action<string>? log = null, Action<FineTuningResult>? before = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Training.Validate();
        var tokenizer = LoadTokenizer(request.ModelPath, request.TokenizerPath);
        PromptTemplate.Resolve(request.Training.Template, tokenizer);
        var train = ReadAll(request, log);
        var validation = request.ValidationDataPath is null ? null
            : DatasetReader.Read(request.ValidationDataPath, train.Format == DataFormat.Text ? DataFormat.Text : request.Format);
        // A quantized base is quantized from the checkpoint's own dtype: a bfloat16 model never exists in float32.
        var loadOptions = request.Training.Lora is { QuantizeBase: not Quantization.BaseQuantization.None }
            ? new ModelLoadOptions { DType = ModelLoadOptions.StoredDType(request.ModelPath) }
            : ModelLoadOptions.Default;
        var model = ModelLoader.Load(request.ModelPath, loadOptions);
        try
        {
            var data = Prepare(train, validation, tokenizer, model.Config, request.Training, log);
            var run = new FineTuningResult(model, tokenizer, data.Template, data.TrainReport, data.ValidationReport, new TrainingResult(), data.TrainExamples, data.ValidationExamples);
            before?.Invoke(run);
            return run with { Training = Train(data, model, request.Training, progress, cancellationToken, request.ResumeFrom, log: log) };
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Reads the training file and any additional ones (which must have the same layout) into one data set.</summary>
    public static Dataset ReadAll(FineTuningRequest request, Action<string>? log = null)
    {
        var parts = new List<Dataset>();
        foreach (var path in new[] { request.DataPath }.Concat(request.AdditionalDataPaths))
        {
            var part = DatasetReader.Read(path, request.Format ?? parts.FirstOrDefault()?.Format);
            log?.Invoke($"Read {part.Count} records from {part.Path} ({part.Format}); {part.Skipped.Count} skipped.");
            parts.Add(part);
        }
        if (parts.Count == 1) return parts[0];
        return new Dataset(parts[0].Path, parts[0].Format, parts.Sum(p => p.RecordCount),
            parts.SelectMany(p => p.Examples).ToList(), parts.SelectMany(p => p.Documents).ToList(), parts.SelectMany(p => p.Skipped).ToList());
    }

    /// <summary>The validation records of a request, as <see cref="Run"/> splits them (empty for plain text).</summary>
    public static IReadOnlyList<InstructionExample> ValidationExamples(FineTuningRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ValidationDataPath is not null)
        {
            var file = DatasetReader.Read(request.ValidationDataPath, request.Format);
            return file.Format == DataFormat.Text ? Array.Empty<InstructionExample>() : file.Examples;
        }
        if (request.Training.ValidationFraction <= 0) return Array.Empty<InstructionExample>();
        var data = ReadAll(request);
        return data.Format == DataFormat.Text ? Array.Empty<InstructionExample>() : Split(data.Examples, request.Training).Validation;
    }

    /// <summary>The tokenizer at <paramref name="tokenizerPath"/>, else the one in the model directory.</summary>
    public static TextTokenizer LoadTokenizer(string modelPath, string? tokenizerPath)
    {
        if (tokenizerPath is not null) return TextTokenizer.Load(tokenizerPath);
        var dir = Directory.Exists(modelPath) ? modelPath : Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
        if (File.Exists(Path.Combine(dir, TextTokenizer.SentencePieceFileName)) || File.Exists(Path.Combine(dir, TextTokenizer.HuggingFaceFileName)) || Gpt2TokenizerFiles.Exist(dir))
            return TextTokenizer.Load(dir);
        throw new FileNotFoundException($"No tokenizer found beside the model {modelPath}; give a tokenizer path.");
    }

    /// <summary>The folder holding the tokenizer's files (copied into saved models).</summary>
    public static string TokenizerDirectory(TextTokenizer tokenizer) => Path.GetDirectoryName(Path.GetFullPath(tokenizer.SourcePath))!;

    private static (IReadOnlyList<T> Train, IReadOnlyList<T> Validation) Split<T>(IReadOnlyList<T> records, TrainingOptions options) =>
        options.ValidationFraction > 0 ? DatasetSplit.Split(records, options.ValidationFraction, options.Seed) : (records, Array.Empty<T>());
}

/// <summary>The tuned model (noise off, evaluation mode), its tokenizer, and what happened to the data and the run.</summary>
public sealed record FineTuningResult(LlamaForCausalLM Model, TextTokenizer Tokenizer, PromptTemplate Template,
    TokenizationReport TrainReport, TokenizationReport? ValidationReport, TrainingResult Training,
    IReadOnlyList<InstructionExample> TrainExamples, IReadOnlyList<InstructionExample> ValidationExamples);
