using Microsoft.ML.Data;
using Microsoft.ML.NEFTune.Generation;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.IO.Tokenizers;
using Microsoft.ML.NEFTune.Modeling;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune;

/// <summary>
/// The result of fitting a <see cref="NeftuneInstructionTuningEstimator"/>: an instruction-tuned causal language model
/// that adds a text column with the generated response for each row's instruction (and optional input).
/// </summary>
/// <remarks>
/// <para><see cref="Transform(IDataView)"/> is lazy: a row's response is generated when a cursor reads the output column,
/// and a row that is read twice is generated once per cursor. Decoding is greedy with repetition penalty 1.2 by default, so
/// the same model gives the same column. NEFTune noise is applied only during <c>Fit</c>, never here.</para>
/// <para>The model is shared by all cursors, row mappers (<see cref="PredictionEngine{TSrc, TDst}"/>) and
/// <see cref="Generate(string, string?)"/> calls, which may run on any threads: each generation holds the model
/// alone (libtorch already uses every core for one), and parallel cursor requests get a single cursor.</para>
/// <para>Save a pipeline holding this transformer with <see cref="NeftuneModel.Save"/>; <c>MLContext.Model.Save</c> cannot
/// store its weights and throws. <see cref="SaveModel(string)"/> writes the model alone in the Hugging Face layout.</para>
/// </remarks>
public sealed class NeftuneInstructionTuningTransformer : ITransformer, IDisposable
{
    private readonly object gate = new();
    private readonly TextTokenizer tokenizer;
    private readonly IReadOnlyDictionary<string, byte[]> tokenizerFiles;
    private readonly InstructionPrompts prompts;
    private readonly EndOfTurn endOfTurn;
    private readonly GenerationOptions decoding;
    private LlamaForCausalLM? model;
    private TextGenerator? generator;

    internal NeftuneInstructionTuningTransformer(LlamaForCausalLM model, TextTokenizer tokenizer,
        IReadOnlyDictionary<string, byte[]> tokenizerFiles, NeftuneTransformerSettings settings, TrainingResult? trainingResult)
    {
        this.model = model;
        this.tokenizer = tokenizer;
        this.tokenizerFiles = tokenizerFiles;
        prompts = new InstructionPrompts(settings.CreateTemplate(tokenizer), tokenizer);
        // "model" names the template the tokenizer's folder resolves to: Alpaca for a model without a chat template.
        Settings = settings.PromptTemplateText is null ? settings with { PromptTemplate = prompts.Template.Name } : settings;
        GenerationOptions = settings.Generation;
        GenerationOptions.Validate();
        // Read while the tokenizer's folder exists (a loaded file's folder is deleted after loading).
        endOfTurn = EndOfTurn.Of(prompts.Template, tokenizer);
        decoding = prompts.Template.RendersSpecialTokens ? endOfTurn.ApplyTo(GenerationOptions, model.Config) : GenerationOptions;
        TrainingResult = trainingResult;
        model.Model.EmbeddingTransform = null;
        model.eval();
        generator = new TextGenerator(model, tokenizer);
    }

    internal NeftuneTransformerSettings Settings { get; }

    /// <summary>Text column read as the instruction.</summary>
    public string InstructionColumnName => Settings.InstructionColumnName;

    /// <summary>Optional text column read as the instruction's input; null when none.</summary>
    public string? InputColumnName => Settings.InputColumnName;

    /// <summary>Text column added with the generated response.</summary>
    public string OutputColumnName => Settings.OutputColumnName;

    /// <summary>
    /// Name of the prompt template used in training and generation: <c>model</c> for the model's own chat template, else
    /// a built-in or custom template's name (for example <c>alpaca</c>).
    /// </summary>
    public string PromptTemplate => prompts.Template.Name;

    /// <summary>
    /// Decoding settings of <see cref="Transform(IDataView)"/> and <see cref="Generate(string, string?)"/>. With the
    /// model's own chat template (<see cref="PromptTemplate"/> <c>model</c>) generation also stops at the template's
    /// end-of-turn tokens and the end-of-sequence ids of <c>generation_config.json</c> (<see cref="EndOfTurn"/>), as
    /// Hugging Face <c>generate</c> does for a chat model.
    /// </summary>
    public GenerationOptions GenerationOptions { get; }

    /// <summary>Losses and steps of the training run; null for a transformer loaded from a file.</summary>
    public TrainingResult? TrainingResult { get; }

    /// <summary>Always true: the transformer maps row to row, so it serves <see cref="PredictionEngine{TSrc, TDst}"/>.</summary>
    public bool IsRowToRowMapper => true;

    /// <summary>The tuned model.</summary>
    internal LlamaForCausalLM Model => model ?? throw Disposed();

    /// <summary>Generates the response to one instruction (and optional input) with the transformer's decoding settings.</summary>
    /// <param name="instruction">The task, as in the instruction column.</param>
    /// <param name="input">Optional context, as in the input column; null or empty = none.</param>
    /// <returns>The generated response (without the prompt).</returns>
    /// <example>
    /// <code>
    /// var tuned = model.LastTransformer;
    /// string answer = tuned.Generate("Name three primary colors.");
    /// </code>
    /// </example>
    public string Generate(string instruction, string? input = null)
    {
        ArgumentNullException.ThrowIfNull(instruction);
        return Generate(new[] { (instruction, input) })[0];
    }

    /// <summary>
    /// A <c>Microsoft.Extensions.AI</c> chat client over the tuned model, for Semantic Kernel, <c>ChatClientBuilder</c>
    /// middleware and other code that takes an <c>IChatClient</c>. It shares the model with this transformer (one
    /// generation at a time) and stays usable until the transformer is disposed; disposing the client does not dispose
    /// the model.
    /// </summary>
    /// <param name="options">
    /// Template and decoding settings; null for this transformer's prompt template and decoding settings (the template's
    /// end-of-turn strings are added to the stop strings). A null <see cref="NeftuneChatClientOptions.Template"/> is this
    /// transformer's template (for <c>model</c>, the chat template it was tuned with, also after <see cref="NeftuneModel.Load"/>).
    /// </param>
    public NeftuneChatClient AsChatClient(NeftuneChatClientOptions? options = null)
    {
        ThrowIfDisposed();
        options ??= new NeftuneChatClientOptions { Template = prompts.Template, Generation = GenerationOptions };
        var client = options with { Template = options.Template ?? prompts.Template, DisposeModel = false };
        return new NeftuneChatClient(() => Model, tokenizer, client, gate, ReferenceEquals(client.Template, prompts.Template) ? endOfTurn : null);
    }

    /// <summary>Generates the responses of several prompts together (left-padded batch).</summary>
    internal IReadOnlyList<string> Generate(IReadOnlyList<(string Instruction, string? Input)> rows)
    {
        var ids = rows.Select(r => prompts.EncodePrompt(r.Instruction, r.Input)).ToList();
        IReadOnlyList<long[]> outputs;
        lock (gate)
        {
            var g = generator ?? throw Disposed();
            outputs = g.GenerateIds(ids, decoding);
        }
        return outputs.Select(o => CutAtStop(tokenizer.Decode(o.Select(i => (int)i)))).ToList();
    }

    private string CutAtStop(string text)
    {
        foreach (var stop in decoding.StopStrings)
        {
            int at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0) text = text[..at];
        }
        return text;
    }

    /// <summary>The prompt text the model answers for an instruction and optional input.</summary>
    internal string RenderPrompt(string instruction, string? input) => prompts.RenderPrompt(instruction, input);

    /// <summary>The ids of that prompt, as generation feeds them to the model.</summary>
    internal long[] EncodePrompt(string instruction, string? input) => prompts.EncodePrompt(instruction, input);

    /// <summary>The decoding settings generation runs with: <see cref="GenerationOptions"/> with the template's end of turn for the model's chat template.</summary>
    internal GenerationOptions Decoding => decoding;

    /// <summary>The schema <see cref="Transform(IDataView)"/> produces: the input columns and the output text column.</summary>
    /// <param name="inputSchema">Schema of the data to transform; needs the instruction (and input) text columns.</param>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return new GenerationBinding(this, inputSchema).OutputSchema;
    }

    /// <summary>
    /// Returns a lazy view of <paramref name="input"/> with the output column added; responses are generated when a
    /// cursor reads that column.
    /// </summary>
    /// <param name="input">Data with the instruction (and input) text columns.</param>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ThrowIfDisposed();
        return new GenerationDataView(new GenerationBinding(this, input.Schema), input);
    }

    /// <summary>A row-to-row mapper over <paramref name="inputSchema"/>; used by <see cref="PredictionEngine{TSrc, TDst}"/>.</summary>
    /// <param name="inputSchema">Schema of the rows to map.</param>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ThrowIfDisposed();
        return new GenerationRowMapper(new GenerationBinding(this, inputSchema));
    }

    /// <summary>
    /// Writes the tuned model in the Hugging Face layout (<c>config.json</c>, <c>model.safetensors</c>,
    /// <c>generation_config.json</c>, tokenizer files) plus <c>neftune.json</c> with this transformer's settings, so that
    /// other tools can read it and <see cref="NeftuneModel.LoadTransformer"/> can rebuild the transformer.
    /// </summary>
    /// <param name="directory">Target folder; created when missing, files of the same names are replaced.</param>
    public void SaveModel(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        lock (gate)
        {
            var m = model ?? throw Disposed();
            HuggingFaceCheckpoint.Save(m, directory);
            foreach (var (name, bytes) in tokenizerFiles)
                AtomicFile.Write(Path.Combine(directory, name), s => s.Write(bytes));
            AtomicFile.WriteAllText(Path.Combine(directory, NeftuneTransformerSettings.FileName), Settings.ToJson());
        }
    }

    /// <summary>Throws: ML.NET model files cannot hold the language model's weights; use <see cref="NeftuneModel.Save"/>.</summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) => throw new NotSupportedException(SaveMessage);

    internal static readonly string SaveMessage =
        $"{nameof(NeftuneInstructionTuningTransformer)} cannot be saved with MLContext.Model.Save: ML.NET model files have no place for " +
        $"its language-model weights. Save the whole pipeline with {nameof(NeftuneModel)}.{nameof(NeftuneModel.Save)}(mlContext, model, inputSchema, path) " +
        $"and load it with {nameof(NeftuneModel)}.{nameof(NeftuneModel.Load)}(mlContext, path, out var inputSchema), or write the model alone " +
        $"with {nameof(SaveModel)}(directory).";

    /// <summary>Releases the model's tensors; later calls throw <see cref="ObjectDisposedException"/>. Calling it again does nothing.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            generator = null;
            model?.Dispose();
            model = null;
        }
    }

    internal void ThrowIfDisposed()
    {
        if (Volatile.Read(ref model) is null) throw Disposed();
    }

    private static ObjectDisposedException Disposed() => new(nameof(NeftuneInstructionTuningTransformer));
}
