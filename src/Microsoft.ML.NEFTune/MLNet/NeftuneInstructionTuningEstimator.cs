using System.Globalization;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Data.Templates;
using Microsoft.ML.NEFTune.Generation;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.IO.Tokenizers;
using Microsoft.ML.NEFTune.Lora;
using Microsoft.ML.NEFTune.Modeling;
using Microsoft.ML.NEFTune.Training;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.NEFTune;

/// <summary>
/// Instruction-tunes a Llama-family causal language model with NEFTune noisy embeddings (arXiv 2310.05914) on the
/// instruction, optional input and response text columns of an <see cref="IDataView"/>. Create it with
/// <see cref="NeftuneCatalog.InstructionTuning(NeftuneInstructionTuningOptions)"/>.
/// </summary>
/// <remarks>
/// <para><see cref="Fit(IDataView)"/> reads the rows through a cursor, renders each with the prompt template, trains with
/// noise added to the token embeddings (loss on the response only), and returns a
/// <see cref="NeftuneInstructionTuningTransformer"/> that generates responses without noise.</para>
/// <para>Progress goes to the <see cref="MLContext.Log"/> event and to <see cref="NeftuneInstructionTuningOptions.Progress"/>;
/// the run is seeded by <see cref="NeftuneInstructionTuningOptions.Seed"/> (default 42, the rule of every front end); both the context's cancellation
/// (<c>MLContext.CancelExecution</c>) and the token given to <see cref="Fit(IDataView, CancellationToken)"/> are checked on
/// the training thread before and after every optimizer step, so training stops within one step with an
/// <see cref="OperationCanceledException"/> that gives the number of steps done. The device follows
/// <see cref="NeftuneInstructionTuningOptions.Device"/>, else <see cref="MLContext.GpuDeviceId"/> and
/// <see cref="MLContext.FallbackToCpu"/>.</para>
/// </remarks>
/// <example>
/// <code>
/// var mlContext = new MLContext(seed: 1);
/// var estimator = mlContext.Neftune().InstructionTuning(new NeftuneInstructionTuningOptions
/// {
///     ModelPath = "models/TinyLlama-1.1B",
///     ResponseColumnName = "Output",
/// });
/// using var model = estimator.Fit(trainData);
/// Console.WriteLine(model.Generate("Name three primary colors."));
/// </code>
/// </example>
public sealed class NeftuneInstructionTuningEstimator : IEstimator<NeftuneInstructionTuningTransformer>
{
    private readonly MLContext mlContext;
    private readonly NeftuneInstructionTuningOptions options;

    internal NeftuneInstructionTuningEstimator(MLContext mlContext, NeftuneInstructionTuningOptions options)
    {
        this.mlContext = mlContext ?? throw new ArgumentNullException(nameof(mlContext));
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        this.options = options.Clone();
    }

    /// <summary>A copy of the settings this estimator was created with.</summary>
    public NeftuneInstructionTuningOptions Options => options.Clone();

    /// <summary>
    /// Checks that <paramref name="inputSchema"/> has the instruction, response (and input) text columns, naming the
    /// first one that is missing or not text, and returns it with the output text column added.
    /// </summary>
    /// <param name="inputSchema">Shape of the training data.</param>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        CheckColumns(inputSchema);
        return NeftuneSchema.AppendText(mlContext, inputSchema, options.OutputColumnName);
    }

    /// <summary>Trains on <paramref name="input"/> and returns the tuned transformer.</summary>
    /// <param name="input">Training data with the instruction, response (and input) text columns.</param>
    public NeftuneInstructionTuningTransformer Fit(IDataView input) => Fit(input, CancellationToken.None);

    /// <summary>Trains on <paramref name="input"/> and returns the tuned transformer; <paramref name="cancellationToken"/> stops training at the next step.</summary>
    /// <param name="input">Training data with the instruction, response (and input) text columns.</param>
    /// <param name="cancellationToken">Cancels training; <see cref="OperationCanceledException"/> is then thrown.</param>
    public NeftuneInstructionTuningTransformer Fit(IDataView input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        CheckColumns(input.Schema);
        if (options.ValidationSet is { } validationView) CheckColumns(validationView.Schema);

        var host = ((IHostEnvironment)mlContext).Register(nameof(NeftuneInstructionTuningEstimator));
        var token = cancellationToken;
        bool HostCancelled() => HostCancellation.IsCanceled(host);
        if (HostCancelled()) throw new OperationCanceledException("NEFTune instruction tuning was cancelled before it started (the ML.NET context's execution is cancelled).");
        using var channel = host.Start("Fit");
        var device = MLContextDevice.Resolve(mlContext, options.Device, channel);
        var modelPath = Hub.HuggingFaceHub.ResolveModelPath(options.ModelPath!);   // a Hub id comes from the Hugging Face cache

        var training = options.ToTrainingOptions() with { Device = device };
        long seed = training.Seed;
        var tokenizer = FineTuning.LoadTokenizer(modelPath, options.TokenizerPath);
        var tokenizerFiles = ReadTokenizerFiles(tokenizer);
        var template = InstructionPrompts.Resolve(options.PromptTemplate, tokenizer);
        var train = ReadDataset(input, channel, "training", token);
        var validation = options.ValidationSet is { } validationSet ? ReadDataset(validationSet, channel, "validation", token) : null;
        token.ThrowIfCancellationRequested();
        if (HostCancelled()) throw new OperationCanceledException("NEFTune instruction tuning was cancelled before training started (the ML.NET context's execution is cancelled).");

        var model = ModelLoader.Load(modelPath, new ModelLoadOptions { Device = device });
        try
        {
            var data = Prepare(train, validation, tokenizer, model.Config, training, channel);
            channel.Info(MessageSensitivity.None, string.Format(CultureInfo.InvariantCulture,
                "NEFTune instruction tuning: {0} training and {1} validation examples, template {2}, alpha {3}, seed {4}, model {5}",
                data.Train.Count, data.Validation.Count, template.Name, options.NoiseAlpha, seed, options.ModelPath));

            var progress = new SynchronousProgress(p =>
            {
                channel.Info(MessageSensitivity.None, Describe(p));
                options.Progress?.Report(p);
            });
            var result = FineTuning.Train(data, model, training, progress, token, options.ResumeFromCheckpoint, HostCancelled);   // both checked on the training thread at every step
            if (result.Cancelled)
                throw new OperationCanceledException($"NEFTune instruction tuning was cancelled after {result.Steps} optimizer steps.", token);
            if (LoraAdapters.HasAdapters(model)) LoraAdapters.Merge(model);
            channel.Info(MessageSensitivity.None, string.Format(CultureInfo.InvariantCulture,
                "NEFTune instruction tuning finished: {0} steps, train loss {1}, validation loss {2}",
                result.Steps, Format(result.FinalTrainLoss), Format(result.FinalValidationLoss)));
            return new NeftuneInstructionTuningTransformer(model, tokenizer, tokenizerFiles, NeftuneTransformerSettings.From(options, template) with { Device = device }, result);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The rows of <paramref name="input"/> tokenized as <see cref="Fit(IDataView)"/> trains on them: each rendered with the
    /// template (the model's own chat template for <c>model</c>), labels on the response only.
    /// </summary>
    internal PreparedData Prepare(IDataView input, LlamaConfig config)
    {
        ArgumentNullException.ThrowIfNull(input);
        CheckColumns(input.Schema);
        var host = ((IHostEnvironment)mlContext).Register(nameof(NeftuneInstructionTuningEstimator));
        using var channel = host.Start(nameof(Prepare));
        var tokenizer = FineTuning.LoadTokenizer(Hub.HuggingFaceHub.ResolveModelPath(options.ModelPath!), options.TokenizerPath);
        return Prepare(ReadDataset(input, channel, "training", CancellationToken.None), null, tokenizer, config, options.ToTrainingOptions(), channel);
    }

    private PreparedData Prepare(Dataset train, Dataset? validation, TextTokenizer tokenizer, LlamaConfig config, TrainingOptions training, IChannel channel)
    {
        PreparedData data;
        try { data = FineTuning.Prepare(train, validation, tokenizer, config, training); }
        catch (DataFormatException e)
        {
            throw new InvalidOperationException(
                $"No training example is left: every row needs a non-empty '{options.InstructionColumnName}' and a prompt shorter than MaxLength ({options.MaxLength}) tokens.", e);
        }
        Report(channel, "training", data.TrainReport);
        if (data.ValidationReport is { } validationReport) Report(channel, "validation", validationReport);
        return data;
    }

    private void CheckColumns(SchemaShape shape)
    {
        NeftuneSchema.RequireText(shape, options.InstructionColumnName, "instruction", nameof(options.InstructionColumnName));
        if (options.InputColumnName is { } inputName) NeftuneSchema.RequireText(shape, inputName, "input", nameof(options.InputColumnName));
        NeftuneSchema.RequireText(shape, options.ResponseColumnName, "response", nameof(options.ResponseColumnName));
    }

    private void CheckColumns(DataViewSchema schema)
    {
        NeftuneSchema.RequireText(schema, options.InstructionColumnName, "instruction", nameof(options.InstructionColumnName));
        if (options.InputColumnName is { } inputName) NeftuneSchema.RequireText(schema, inputName, "input", nameof(options.InputColumnName));
        NeftuneSchema.RequireText(schema, options.ResponseColumnName, "response", nameof(options.ResponseColumnName));
    }

    /// <summary>The rows of <paramref name="data"/> as instruction records; rows without an instruction are skipped.</summary>
    private Dataset ReadDataset(IDataView data, IChannel channel, string what, CancellationToken token)
    {
        var examples = ReadExamples(data, channel, what, token).ToList();
        return new Dataset($"the {what} data view", DataFormat.Alpaca, examples.Count, examples, Array.Empty<PlainText>(), Array.Empty<SkippedRecord>());
    }

    /// <summary>Streams the rows of <paramref name="data"/> through a cursor; rows without an instruction are skipped.</summary>
    private IEnumerable<InstructionExample> ReadExamples(IDataView data, IChannel channel, string what, CancellationToken token)
    {
        var schema = data.Schema;
        var instructionColumn = schema[options.InstructionColumnName];
        var responseColumn = schema[options.ResponseColumnName];
        DataViewSchema.Column? inputColumn = options.InputColumnName is { } name ? schema[name] : null;
        var active = new List<DataViewSchema.Column> { instructionColumn, responseColumn };
        if (inputColumn is { } ic) active.Add(ic);

        long rows = 0, skipped = 0;
        using (var cursor = data.GetRowCursor(active))
        {
            var instructionGetter = cursor.GetGetter<ReadOnlyMemory<char>>(instructionColumn);
            var responseGetter = cursor.GetGetter<ReadOnlyMemory<char>>(responseColumn);
            var inputGetter = inputColumn is { } c ? cursor.GetGetter<ReadOnlyMemory<char>>(c) : null;
            ReadOnlyMemory<char> instruction = default, response = default, context = default;
            while (cursor.MoveNext())
            {
                if ((++rows & 63) == 0) token.ThrowIfCancellationRequested();
                instructionGetter(ref instruction);
                if (instruction.Span.IsWhiteSpace()) { skipped++; continue; }
                responseGetter(ref response);
                if (inputGetter is not null) inputGetter(ref context);
                var input = inputGetter is null ? null : context.ToString();
                yield return response.Length == 0   // an empty response is trained on EOS alone, as the NEFTune training code does
                    ? InstructionExample.WithEmptyResponse(instruction.ToString(), input)
                    : InstructionPrompts.Example(instruction.ToString(), input, response.ToString());
            }
        }
        if (skipped > 0)
            channel.Warning(MessageSensitivity.None, $"{skipped} of {rows} {what} rows were skipped: the instruction column '{options.InstructionColumnName}' is empty.");
    }

    private static void Report(IChannel channel, string what, TokenizationReport report)
    {
        var message = $"{what} examples: {report}";
        if (report.Dropped > 0) channel.Warning(MessageSensitivity.None, message);
        else channel.Info(MessageSensitivity.None, message);
    }

    /// <summary>
    /// The tokenizer files, with the chat template file and <c>generation_config.json</c> beside them, kept in memory so
    /// that the transformer can be saved after the source folder is gone.
    /// </summary>
    internal static Dictionary<string, byte[]> ReadTokenizerFiles(TextTokenizer tokenizer)
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        if (string.IsNullOrEmpty(tokenizer.SourcePath)) return files;
        if (Path.GetFileName(tokenizer.SourcePath) == Gpt2TokenizerFiles.VocabFileName)
        {
            files[Gpt2TokenizerFiles.VocabFileName] = File.ReadAllBytes(tokenizer.SourcePath);
            files[Gpt2TokenizerFiles.MergesFileName] = File.ReadAllBytes(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(tokenizer.SourcePath))!, Gpt2TokenizerFiles.MergesFileName));
        }
        else
        {
            var name = string.Equals(Path.GetExtension(tokenizer.SourcePath), ".json", StringComparison.OrdinalIgnoreCase)
                ? TextTokenizer.HuggingFaceFileName : TextTokenizer.SentencePieceFileName;
            files[name] = File.ReadAllBytes(tokenizer.SourcePath);
        }
        if (tokenizer.ConfigPath is { } config && File.Exists(config)) files["tokenizer_config.json"] = File.ReadAllBytes(config);
        var folder = Path.GetDirectoryName(Path.GetFullPath(tokenizer.SourcePath))!;
        // The chat template may live in its own file, and generation_config.json's end-of-sequence ids end a chat turn
        // (EndOfTurn): both are kept so that a saved transformer prompts and stops as this one does.
        foreach (var name in new[] { "special_tokens_map.json", ChatTemplate.JinjaFileName, EndOfTurn.GenerationConfigFileName })
        {
            var path = Path.Combine(folder, name);
            if (File.Exists(path)) files[name] = File.ReadAllBytes(path);
        }
        return files;
    }

    private static string Describe(TrainingProgress p)
    {
        var inv = CultureInfo.InvariantCulture;
        if (p.IsEvaluation)
            return string.Format(inv, "evaluation at step {0}/{1}: validation loss {2}, train loss without noise {3}", p.Step, p.TotalSteps, Format(p.ValidationLoss), Format(p.TrainLossNoiseOff));
        return string.Format(inv, "step {0}/{1} epoch {2:F2} loss {3} lr {4:G3} grad norm {5} {6:F0} tokens/s eta {7:hh\\:mm\\:ss}",
            p.Step, p.TotalSteps, p.Epoch, Format(p.TrainLoss), p.LearningRate ?? 0, Format(p.GradNorm), p.TokensPerSecond ?? 0, p.Eta ?? TimeSpan.Zero);
    }

    private static string Format(double? value) => value is double v ? v.ToString("F4", CultureInfo.InvariantCulture) : "n/a";

    /// <summary>Reports on the training thread (<see cref="Progress{T}"/> would post to a synchronization context).</summary>
    private sealed class SynchronousProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
