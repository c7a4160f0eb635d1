using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.IO.Tokenizers;
using Microsoft.ML.NEFTune.Modeling;

namespace Microsoft.ML.NEFTune.Training;

/// <summary>
/// A fine-tuning run from files: load model and tokenizer, read and split the data, apply the template and
/// response-only labels, train with NEFTune, save. The steps are public so callers can compose their own.
/// </summary>
public static class FineTuning
{
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
        if (request.ValidationSplit is < 0 or >= 1)
            throw new ArgumentOutOfRangeException(nameof(request.ValidationSplit), request.ValidationSplit, "ValidationSplit must be in [0, 1).");
        var tokenizer = LoadTokenizer(request.ModelPath, request.TokenizerPath);
        var template = PromptTemplate.Resolve(request.Template);
        var data = ReadAll(request, log);

        var tokenizerOptions = new ExampleTokenizerOptions { MaxLength = request.MaxLength, Truncation = request.Truncation, TrainOnPrompt = request.TrainOnPrompt };
        var exampleTokenizer = new ExampleTokenizer(tokenizer, template, tokenizerOptions);
        TokenizationResult train;
        TokenizationResult? validation = null;
        IReadOnlyList<InstructionExample> validationExamples = Array.Empty<InstructionExample>(), trainingExamples = Array.Empty<InstructionExample>();
        if (data.Format == DataFormat.Text)
        {
            var (trainDocs, valDocs) = request.ValidationSplit > 0 ? DatasetSplit.Split(data.Documents, request.ValidationSplit, request.Training.Seed) : (data.Documents, Array.Empty<PlainText>());
            train = exampleTokenizer.TokenizeDocuments(trainDocs);
            if (request.ValidationDataPath is not null) validation = exampleTokenizer.TokenizeDocuments(DatasetReader.Read(request.ValidationDataPath, DataFormat.Text).Documents);
            else if (valDocs.Count > 0) validation = exampleTokenizer.TokenizeDocuments(valDocs);
        }
        else
        {
            var (trainExamples, valExamples) = request.ValidationDataPath is not null
                ? (data.Examples, DatasetReader.Read(request.ValidationDataPath, request.Format).Examples)
                : request.ValidationSplit > 0 ? DatasetSplit.Split(data.Examples, request.ValidationSplit, request.Training.Seed) : (data.Examples, Array.Empty<InstructionExample>());
            train = exampleTokenizer.Tokenize(trainExamples);
            if (valExamples.Count > 0) validation = exampleTokenizer.Tokenize(valExamples);
            validationExamples = valExamples;
            trainingExamples = trainExamples;
        }
        log?.Invoke($"Training examples: {train.Report}");
        if (validation is not null) log?.Invoke($"Validation examples: {validation.Report}");
        if (train.Examples.Count == 0) throw new DataFormatException(request.DataPath, "no training example is left after tokenization (all were dropped; see the report above)");

        var model = ModelLoader.Load(request.ModelPath);
        if (tokenizer.VocabularySize > model.Config.VocabSize)
            throw new ModelFormatException(tokenizer.SourcePath, $"the tokenizer has {tokenizer.VocabularySize} tokens but the model's vocab_size is {model.Config.VocabSize}");
        using var trainer = new NeftuneTrainer(model, train.Examples, validation?.Examples, request.Training,
            padId: tokenizer.PadId ?? 0, tokenizerDirectory: TokenizerDirectory(tokenizer));
        if (request.ResumeFrom is not null) trainer.ResumeFrom(request.ResumeFrom);
        var run = new FineTuningResult(model, tokenizer, template, train.Report, validation?.Report, new TrainingResult(), trainingExamples, validationExamples);
        before?.Invoke(run);
        return run with { Training = trainer.Train(progress, cancellationToken) };
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

    /// <summary>The tokenizer at <paramref name="tokenizerPath"/>, else the one in the model directory.</summary>
    public static TextTokenizer LoadTokenizer(string modelPath, string? tokenizerPath)
    {
        if (tokenizerPath is not null) return TextTokenizer.Load(tokenizerPath);
        var dir = Directory.Exists(modelPath) ? modelPath : Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
        if (File.Exists(Path.Combine(dir, TextTokenizer.SentencePieceFileName)) || File.Exists(Path.Combine(dir, TextTokenizer.HuggingFaceFileName)))
            return TextTokenizer.Load(dir);
        throw new FileNotFoundException($"No tokenizer found beside the model {modelPath}; give a tokenizer path.");
    }

    /// <summary>The folder holding the tokenizer's files (copied into saved models).</summary>
    public static string TokenizerDirectory(TextTokenizer tokenizer) => Path.GetDirectoryName(Path.GetFullPath(tokenizer.SourcePath))!;
}
