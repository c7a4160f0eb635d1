namespace Microsoft.ML.NEFTune;

/// <summary>Adds the NEFTune catalog to <see cref="MLContext"/>.</summary>
public static class NeftuneMLContextExtensions
{
    /// <summary>
    /// The catalog of NEFTune components: instruction tuning of Llama-family causal language models with noisy
    /// embeddings (arXiv 2310.05914). The components use this context's seed, log and cancellation.
    /// </summary>
    /// <param name="mlContext">The ML.NET context.</param>
    /// <example>
    /// <code>
    /// var mlContext = new MLContext(seed: 1);
    /// var pipeline = mlContext.Neftune().InstructionTuning("models/TinyLlama-1.1B", responseColumnName: "Output");
    /// </code>
    /// </example>
    public static NeftuneCatalog Neftune(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return new NeftuneCatalog(mlContext);
    }
}

/// <summary>
/// NEFTune components, reached through <see cref="NeftuneMLContextExtensions.Neftune(MLContext)"/>.
/// </summary>
public sealed class NeftuneCatalog
{
    internal NeftuneCatalog(MLContext mlContext) => Context = mlContext;

    internal MLContext Context { get; }

    /// <summary>
    /// Creates a <see cref="NeftuneInstructionTuningEstimator"/> that fine-tunes a causal language model on
    /// instruction/response text columns with NEFTune noisy embeddings, and whose transformer adds a text column
    /// with the response the tuned model generates (greedy, without noise).
    /// </summary>
    /// <param name="options">All settings; see <see cref="NeftuneInstructionTuningOptions"/> for each default.</param>
    /// <example>
    /// <code>
    /// var pipeline = mlContext.Transforms.Text.NormalizeText("Instruction")
    ///     .Append(mlContext.Neftune().InstructionTuning(new NeftuneInstructionTuningOptions
    ///     {
    ///         ModelPath = "models/TinyLlama-1.1B",
    ///         InputColumnName = "Input",
    ///         ResponseColumnName = "Output",
    ///         NoiseAlpha = 5,
    ///     }));
    /// var model = pipeline.Fit(trainData);
    /// NeftuneModel.Save(mlContext, model, trainData.Schema, "assistant.zip");
    /// </code>
    /// </example>
    public NeftuneInstructionTuningEstimator InstructionTuning(NeftuneInstructionTuningOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new NeftuneInstructionTuningEstimator(Context, options);
    }

    /// <summary>
    /// Creates a <see cref="NeftuneInstructionTuningEstimator"/> with the given columns and noise and every other
    /// setting at its default (3 epochs, learning rate 5e-5, batch size 8, Alpaca prompt, greedy decoding with
    /// repetition penalty 1.2, at most 128 new tokens).
    /// </summary>
    /// <param name="modelPath">Hugging Face model directory of the base model (with its tokenizer files).</param>
    /// <param name="instructionColumnName">Text column of instructions. Default <c>Instruction</c>.</param>
    /// <param name="responseColumnName">Text column of responses to learn. Default <c>Response</c>.</param>
    /// <param name="outputColumnName">Text column added with the generated responses. Default <c>Generated</c>.</param>
    /// <param name="inputColumnName">Optional text column of inputs that give the instruction context. Default null.</param>
    /// <param name="noiseAlpha">NEFTune noise scale alpha; 0 = plain fine-tuning. Default 5.</param>
    /// <example>
    /// <code>
    /// var model = mlContext.Neftune().InstructionTuning("models/TinyLlama-1.1B", "Instruction", "Output").Fit(trainData);
    /// </code>
    /// </example>
    public NeftuneInstructionTuningEstimator InstructionTuning(string modelPath,
        string instructionColumnName = NeftuneInstructionTuningOptions.DefaultInstructionColumnName,
        string responseColumnName = NeftuneInstructionTuningOptions.DefaultResponseColumnName,
        string outputColumnName = NeftuneInstructionTuningOptions.DefaultOutputColumnName,
        string? inputColumnName = null,
        double noiseAlpha = 5)
        => InstructionTuning(new NeftuneInstructionTuningOptions
        {
            ModelPath = modelPath,
            InstructionColumnName = instructionColumnName,
            ResponseColumnName = responseColumnName,
            OutputColumnName = outputColumnName,
            InputColumnName = inputColumnName,
            NoiseAlpha = noiseAlpha,
        });
}
