using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Generation;
using Microsoft.ML.NEFTune.Lora;
using Microsoft.ML.NEFTune.Noise;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune;

/// <summary>
/// Settings of <see cref="NeftuneCatalog.InstructionTuning(NeftuneInstructionTuningOptions)"/>: which columns hold the
/// instruction data, which base model to tune, and the run's <see cref="Training"/> settings — template, noise,
/// trainer and the decoding used by <see cref="NeftuneInstructionTuningTransformer.Transform(IDataView)"/>.
/// </summary>
/// <remarks>
/// The trainer, noise and decoding properties are views of <see cref="Training"/>, the <see cref="TrainingOptions"/>
/// that the <c>neftune train</c> command and the library use too, so their defaults are the documented defaults of
/// <see cref="TrainingOptions"/> (alpha 5, uniform, per-sequence; seed 42; no length grouping; greedy decoding with a
/// repetition penalty of 1.2). Assign <see cref="Training"/> to start from a preset such as
/// <see cref="TrainingOptions.PaperRecipe"/>.
/// </remarks>
/// <example>
/// <code>
/// var options = new NeftuneInstructionTuningOptions
/// {
///     ModelPath = "models/TinyLlama-1.1B",
///     InstructionColumnName = "Instruction",
///     InputColumnName = "Input",
///     ResponseColumnName = "Output",
///     OutputColumnName = "Generated",
///     NoiseAlpha = 5,
///     NumberOfEpochs = 3,
/// };
/// var pipeline = mlContext.Neftune().InstructionTuning(options);
/// </code>
/// </example>
public sealed class NeftuneInstructionTuningOptions
{
    /// <summary>Default name of the instruction column: <c>Instruction</c>.</summary>
    public const string DefaultInstructionColumnName = "Instruction";

    /// <summary>Default name of the response column: <c>Response</c>.</summary>
    public const string DefaultResponseColumnName = "Response";

    /// <summary>Default name of the generated column: <c>Generated</c>.</summary>
    public const string DefaultOutputColumnName = "Generated";

    private TrainingOptions training = new();

    /// <summary>
    /// The run's settings, shared with the CLI and the library: the properties below from <see cref="PromptTemplate"/>
    /// to <see cref="GenerationSeed"/> read and write it. <see cref="TrainingOptions.Seed"/> is used as given. Default: <c>new TrainingOptions()</c>.
    /// </summary>
    public TrainingOptions Training
    {
        get => training;
        set => training = value ?? throw new ArgumentNullException(nameof(value));
    }

    // ---- Model and data ----

    /// <summary>
    /// The base model: a Hugging Face model directory (<c>config.json</c>, <c>model.safetensors</c> or shards, tokenizer
    /// files), a llama2.c <c>.bin</c> file (then <see cref="TokenizerPath"/> is required), or a Hugging Face Hub repository
    /// id <c>owner/name</c>, taken from the shared Hugging Face cache (see <see cref="Hub.HuggingFaceHub.ResolveModelPath"/>). Required.
    /// </summary>
    public string? ModelPath { get; set; }

    /// <summary>
    /// Tokenizer file (<c>tokenizer.model</c> or <c>tokenizer.json</c>) or a directory holding one.
    /// Default null: the tokenizer of the <see cref="ModelPath"/> directory.
    /// </summary>
    public string? TokenizerPath { get; set; }

    /// <summary>Text column holding the instruction (the task). Default <c>Instruction</c>.</summary>
    public string InstructionColumnName { get; set; } = DefaultInstructionColumnName;

    /// <summary>Optional text column holding an input that gives the instruction context; null = none. Default null.</summary>
    public string? InputColumnName { get; set; }

    /// <summary>Text column holding the response to learn; read by <c>Fit</c> only. Default <c>Response</c>.</summary>
    public string ResponseColumnName { get; set; } = DefaultResponseColumnName;

    /// <summary>Text column added by the transformer with the generated response. Default <c>Generated</c>.</summary>
    public string OutputColumnName { get; set; } = DefaultOutputColumnName;

    /// <summary>
    /// Prompt template used for training and generation: <c>model</c> (the model's own chat template from its
    /// <c>tokenizer_config.json</c> or <c>chat_template.jinja</c>, rendered as <c>apply_chat_template</c> does: each row is
    /// a user turn — the instruction, then a blank line and the input when there is one — and an assistant turn with the
    /// response, the loss on the assistant turn only; prompts are rendered with <c>add_generation_prompt=True</c> and
    /// generation stops at the template's end-of-turn tokens; Alpaca when the model has no chat template), <c>alpaca</c>
    /// (Stanford Alpaca's <c>### Instruction:</c> / <c>### Input:</c> / <c>### Response:</c> layout, as in the NEFTune
    /// paper), <c>llama2-chat</c>, <c>chatml</c>, <c>vicuna</c>, or the path of a custom template file (its text is kept
    /// in saved models). Default <c>model</c>, as <see cref="TrainingOptions.Template"/>.
    /// </summary>
    public string PromptTemplate { get => training.Template; set => training = training with { Template = value }; }

    /// <summary>Maximum tokens of one training example (prompt plus response, BOS and EOS included). Range: ≥ 8. Default 512.</summary>
    public int MaxLength { get => training.MaxLength; set => training = training with { MaxLength = value }; }

    /// <summary>What happens to examples longer than <see cref="MaxLength"/>. Default <see cref="TruncationMode.TruncateResponse"/> (cut the response's end).</summary>
    public TruncationMode Truncation { get => training.Truncation; set => training = training with { Truncation = value }; }

    /// <summary>Take the loss on prompt tokens too. Default false: only responses are learned, as in the paper.</summary>
    public bool TrainOnPrompt { get => training.TrainOnPrompt; set => training = training with { TrainOnPrompt = value }; }

    /// <summary>Optional validation data with the same columns, evaluated with noise off. Default null.</summary>
    public IDataView? ValidationSet { get; set; }

    /// <summary>
    /// When <see cref="ValidationSet"/> is null, the fraction of the training rows held out (seeded) for validation;
    /// 0 = no validation. Range: [0, 1). Default 0.
    /// </summary>
    public double ValidationFraction { get => training.ValidationFraction; set => training = training with { ValidationFraction = value }; }

    // ---- NEFTune noise ----

    /// <summary>NEFTune noise scale alpha; the paper uses 5, 10 and 15; 0 = plain fine-tuning. Range: ≥ 0. Default 5.</summary>
    public double NoiseAlpha { get => training.Noise.Alpha; set => training = training with { Noise = training.Noise with { Alpha = value } }; }

    /// <summary>Which sequence length enters <c>alpha / sqrt(L·d)</c>. Default <see cref="NeftuneScaling.PerSequence"/>.</summary>
    public NeftuneScaling NoiseScaling { get => training.Noise.Scaling; set => training = training with { Noise = training.Noise with { Scaling = value } }; }

    /// <summary>
    /// The noise kind by name: <c>uniform</c> (the paper's method), <c>gaussian</c> (its ablation) or a kind registered with
    /// <see cref="NoiseKinds.Register"/>; <c>symnoise</c> is refused with the reason. Default <c>uniform</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The name is not a known kind.</exception>
    public string NoiseKind { get => training.Noise.KindName; set => training = training with { Noise = training.Noise.WithKind(value) }; }

    // ---- Trainer ----

    /// <summary>Peak learning rate. Range: &gt; 0. Default 5e-5.</summary>
    public double LearningRate { get => training.LearningRate; set => training = training with { LearningRate = value }; }

    /// <summary>Decoupled (AdamW) weight decay; norms and biases are excluded. Range: ≥ 0. Default 0.</summary>
    public double WeightDecay { get => training.WeightDecay; set => training = training with { WeightDecay = value }; }

    /// <summary>AdamW beta1. Range: [0, 1). Default 0.9.</summary>
    public double AdamBeta1 { get => training.AdamBeta1; set => training = training with { AdamBeta1 = value }; }

    /// <summary>AdamW beta2. Range: [0, 1). Default 0.999.</summary>
    public double AdamBeta2 { get => training.AdamBeta2; set => training = training with { AdamBeta2 = value }; }

    /// <summary>AdamW epsilon. Range: &gt; 0. Default 1e-8.</summary>
    public double AdamEpsilon { get => training.AdamEpsilon; set => training = training with { AdamEpsilon = value }; }

    /// <summary>Learning-rate shape after warmup. Default <see cref="LearningRateSchedule.Cosine"/>.</summary>
    public LearningRateSchedule LearningRateSchedule { get => training.Scheduler; set => training = training with { Scheduler = value }; }

    /// <summary>Fraction of the optimizer steps spent warming up linearly. Range: [0, 1]. Default 0.03.</summary>
    public double WarmupRatio { get => training.WarmupRatio; set => training = training with { WarmupRatio = value }; }

    /// <summary>Passes over the training data. Range: ≥ 1. Default 3.</summary>
    public int NumberOfEpochs { get => training.Epochs; set => training = training with { Epochs = value }; }

    /// <summary>If set, training stops after this many optimizer steps (overrides <see cref="NumberOfEpochs"/>). Range: ≥ 1. Default null.</summary>
    public int? MaxSteps { get => training.MaxSteps; set => training = training with { MaxSteps = value }; }

    /// <summary>Sequences per micro-batch. Range: ≥ 1. Default 8.</summary>
    public int BatchSize { get => training.BatchSize; set => training = training with { BatchSize = value }; }

    /// <summary>Micro-batches per optimizer step. Range: ≥ 1. Default 1.</summary>
    public int GradientAccumulationSteps { get => training.GradientAccumulationSteps; set => training = training with { GradientAccumulationSteps = value }; }

    /// <summary>Clip the global gradient norm to this value; 0 = off. Range: ≥ 0. Default 1.</summary>
    public double MaxGradNorm { get => training.MaxGradNorm; set => training = training with { MaxGradNorm = value }; }

    /// <summary>
    /// Run forward and backward in bfloat16 over float32 master weights. Default false. Only on CPUs with fast
    /// bfloat16 products (avx512_bf16/amx_bf16); elsewhere training computes in float32.
    /// </summary>
    public bool BFloat16 { get => training.BFloat16; set => training = training with { BFloat16 = value }; }

    /// <summary>
    /// Recompute each decoder layer during backward instead of keeping its activations (activation checkpointing):
    /// less memory for long sequences and large models, about a third more compute, the same gradients. Default false.
    /// </summary>
    public bool GradientCheckpointing { get => training.GradientCheckpointing; set => training = training with { GradientCheckpointing = value }; }

    /// <summary>
    /// Refuse full fine-tuning up front, with the estimate in the message, when weights, gradients, AdamW state and
    /// activations would not fit in the memory the machine has available. Default true.
    /// </summary>
    public bool CheckMemory { get => training.CheckMemory; set => training = training with { CheckMemory = value }; }

    /// <summary>
    /// Train LoRA adapters over a frozen (optionally int8/NF4-quantized) base instead of the full model; null = full
    /// fine-tuning. The adapters are merged into the model the transformer generates with; with an
    /// <see cref="OutputDirectory"/> the adapter is also saved there in the PEFT layout. Default null.
    /// </summary>
    public LoraOptions? Lora { get => training.Lora; set => training = training with { Lora = value }; }

    /// <summary>Evaluate every N optimizer steps (and at the end); 0 = at the end of each epoch. Range: ≥ 0. Default 0.</summary>
    public int EvalSteps { get => training.EvalSteps; set => training = training with { EvalSteps = value }; }

    /// <summary>Write a checkpoint every N optimizer steps when <see cref="OutputDirectory"/> is set; 0 = only at the end. Range: ≥ 0. Default 0.</summary>
    public int SaveSteps { get => training.SaveSteps; set => training = training with { SaveSteps = value }; }

    /// <summary>How many checkpoints to keep (newest first); 0 = all. Range: ≥ 0. Default 2.</summary>
    public int SaveTotalLimit { get => training.SaveTotalLimit; set => training = training with { SaveTotalLimit = value }; }

    /// <summary>Log a progress line every N optimizer steps. Range: ≥ 1. Default 1.</summary>
    public int LoggingSteps { get => training.LoggingSteps; set => training = training with { LoggingSteps = value }; }

    /// <summary>Stop after this many evaluations without a lower validation loss; 0 = never. Range: ≥ 0. Default 0.</summary>
    public int EarlyStoppingPatience { get => training.EarlyStoppingPatience; set => training = training with { EarlyStoppingPatience = value }; }

    /// <summary>Training examples (a fixed seeded sample) whose noise-off loss is measured at each evaluation; 0 = none. Range: ≥ 0. Default 64.</summary>
    public int NoiseOffTrainSampleSize { get => training.NoiseOffTrainSampleSize; set => training = training with { NoiseOffTrainSampleSize = value }; }

    /// <summary>
    /// Pack several short examples into rows of up to this many tokens (attention and positions stay inside each
    /// example); null = one example per row. Range: ≥ 2. Default null.
    /// </summary>
    public int? PackingLength { get => training.PackingLength; set => training = training with { PackingLength = value }; }

    /// <summary>Sort examples by length within mega-batches to cut padding (changes the batches, unlike the paper's runs). Default false.</summary>
    public bool GroupByLength { get => training.GroupByLength; set => training = training with { GroupByLength = value }; }

    /// <summary>Seed of data order, noise, initialisation and the validation split (the <see cref="MLContext"/>'s random source is not used). Default 42.</summary>
    public long Seed { get => training.Seed; set => training = training with { Seed = value }; }

    /// <summary>Folder for checkpoints, metrics and the final Hugging Face model; null = keep everything in memory. Default null.</summary>
    public string? OutputDirectory { get => training.OutputDirectory; set => training = training with { OutputDirectory = value }; }

    /// <summary>Metrics file (JSON lines); null = <c>OutputDirectory/metrics.jsonl</c> when there is an output folder. Default null.</summary>
    public string? MetricsPath { get => training.MetricsPath; set => training = training with { MetricsPath = value }; }

    /// <summary>A checkpoint folder (or an output folder, whose newest checkpoint is taken) to resume training from. Default null.</summary>
    public string? ResumeFromCheckpoint { get; set; }

    /// <summary>
    /// Device for training and generation: <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>. Default null: <c>cuda:N</c> when
    /// <see cref="MLContext.GpuDeviceId"/> is N, else <c>cpu</c>. When CUDA is asked for but not available (no
    /// <c>TorchSharp-cuda-*</c> backend package, or no such GPU), <see cref="MLContext.FallbackToCpu"/> chooses between
    /// the CPU, with a warning on <see cref="MLContext.Log"/>, and an <see cref="InvalidOperationException"/> at <c>Fit</c>.
    /// </summary>
    public string? Device { get; set; }

    /// <summary>
    /// Receives a report after every logged optimizer step and every evaluation during <c>Fit</c>, on the training
    /// thread (the same reports are written to <see cref="MLContext.Log"/>). Default null.
    /// </summary>
    public IProgress<TrainingProgress>? Progress { get; set; }

    // ---- Generation (Transform, PredictionEngine, Generate) ----

    /// <summary>Maximum tokens generated per row. Range: ≥ 0. Default 128.</summary>
    public int MaxNewTokens { get => training.Generation.MaxNewTokens; set => training = training with { Generation = training.Generation with { MaxNewTokens = value } }; }

    /// <summary>Sampling temperature; 0 = greedy (deterministic). Range: ≥ 0. Default 0.</summary>
    public double Temperature { get => training.Generation.Temperature; set => training = training with { Generation = training.Generation with { Temperature = value } }; }

    /// <summary>When sampling, keep only the K most likely tokens; 0 = off. Range: ≥ 0. Default 0.</summary>
    public int TopK { get => training.Generation.TopK; set => training = training with { Generation = training.Generation with { TopK = value } }; }

    /// <summary>When sampling, nucleus threshold; 1 = off. Range: (0, 1]. Default 1.</summary>
    public double TopP { get => training.Generation.TopP; set => training = training with { Generation = training.Generation with { TopP = value } }; }

    /// <summary>Repetition penalty over prompt and generated tokens; 1 = off. Range: &gt; 0. Default 1.2 (the NEFTune authors' evaluation setting).</summary>
    public double RepetitionPenalty { get => training.Generation.RepetitionPenalty; set => training = training with { Generation = training.Generation with { RepetitionPenalty = value } }; }

    /// <summary>Generation stops at the first of these strings, which is cut off. Default none.</summary>
    public IReadOnlyList<string> StopStrings { get => training.Generation.StopStrings; set => training = training with { Generation = training.Generation with { StopStrings = value?.ToArray()! } }; }

    /// <summary>Seed of sampling (used when <see cref="Temperature"/> &gt; 0); each row starts from it. Default 0.</summary>
    public long GenerationSeed { get => training.Generation.Seed; set => training = training with { Generation = training.Generation with { Seed = value } }; }

    /// <summary>
    /// Rows generated together when a cursor reads the output column in order. 1 gives exactly the text of
    /// <see cref="NeftuneInstructionTuningTransformer.Generate(string, string?)"/> for every row; larger values raise
    /// throughput, and batched (left-padded) decoding may then differ from single-row decoding where two tokens are
    /// within rounding of each other. Range: ≥ 1. Default 1.
    /// </summary>
    public int GenerationBatchSize { get; set; } = 1;

    internal NeftuneInstructionTuningOptions Clone()
    {
        var copy = (NeftuneInstructionTuningOptions)MemberwiseClone();
        copy.StopStrings = StopStrings?.ToArray() ?? Array.Empty<string>();
        return copy;
    }

    /// <summary>Throws an exception naming the first invalid setting.</summary>
    internal void Validate()
    {
        static void Check(bool ok, string name, object? value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(name, value, $"{nameof(NeftuneInstructionTuningOptions)}.{name} {rule}.");
        }
        if (string.IsNullOrWhiteSpace(ModelPath))
            throw new ArgumentException($"{nameof(NeftuneInstructionTuningOptions)}.{nameof(ModelPath)} is required: a Hugging Face model directory or a llama2.c .bin file.", nameof(ModelPath));
        static void Name(string? value, string name)
        {
            if (string.IsNullOrWhiteSpace(value)) throw new ArgumentException($"{nameof(NeftuneInstructionTuningOptions)}.{name} must name a column.", name);
        }
        Name(InstructionColumnName, nameof(InstructionColumnName));
        Name(ResponseColumnName, nameof(ResponseColumnName));
        Name(OutputColumnName, nameof(OutputColumnName));
        if (InputColumnName is not null) Name(InputColumnName, nameof(InputColumnName));
        InstructionPrompts.Check(PromptTemplate);
        ToExampleTokenizerOptions().Validate();
        Check(MaxLength >= 8, nameof(MaxLength), MaxLength, "must be at least 8");
        Check(Enum.IsDefined(Truncation), nameof(Truncation), Truncation, "is not a truncation mode");
        Check(ValidationFraction is >= 0 and < 1, nameof(ValidationFraction), ValidationFraction, "must be in [0, 1)");
        Check(GenerationBatchSize >= 1, nameof(GenerationBatchSize), GenerationBatchSize, "must be at least 1");
        Check(StopStrings is not null && StopStrings.All(s => !string.IsNullOrEmpty(s)), nameof(StopStrings), null, "must not be null or hold empty strings");
        if (Device is not null) ComputeDevice.Parse(Device, $"{nameof(NeftuneInstructionTuningOptions)}.{nameof(Device)}");
        ToTrainingOptions().Validate();
        ToGenerationOptions().Validate();
    }

    internal ExampleTokenizerOptions ToExampleTokenizerOptions() => new() { MaxLength = MaxLength, Truncation = Truncation, TrainOnPrompt = TrainOnPrompt };

    /// <summary>
    /// The settings a fit runs with: <see cref="Training"/>, with the device of <see cref="Device"/> (CPU when null; the
    /// estimator resolves the context's GPU) and LoRA's base model defaulting to <see cref="ModelPath"/>.
    /// </summary>
    internal TrainingOptions ToTrainingOptions()
    {
        var options = training with { Device = Device is null ? ComputeDevice.Cpu : ComputeDevice.Parse(Device) };
        return options.Lora is { BaseModelNameOrPath: null } lora ? options with { Lora = lora with { BaseModelNameOrPath = ModelPath } } : options;
    }

    internal GenerationOptions ToGenerationOptions() => training.Generation;
}
