using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Generation;
using Microsoft.ML.NEFTune.Lora;
using Microsoft.ML.NEFTune.Noise;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune;

/// <summary>
/// Settings of <see cref="NeftuneCatalog.InstructionTuning(NeftuneInstructionTuningOptions)"/>: which columns hold the
/// instruction data, which base model to tune, the NEFTune noise, the trainer and the decoding used by
/// <see cref="NeftuneInstructionTuningTransformer.Transform(IDataView)"/>.
/// </summary>
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
    /// Prompt template used for training and generation: <c>alpaca</c> (Stanford Alpaca's <c>### Instruction:</c> /
    /// <c>### Input:</c> / <c>### Response:</c> layout, as in the NEFTune paper), <c>llama2-chat</c>, <c>chatml</c>,
    /// <c>vicuna</c>, or the path of a custom template file (its text is kept in saved models). Default <c>alpaca</c>.
    /// </summary>
    public string PromptTemplate { get; set; } = "alpaca";

    /// <summary>Maximum tokens of one training example (prompt plus response, BOS and EOS included). Range: ≥ 8. Default 512.</summary>
    public int MaxLength { get; set; } = 512;

    /// <summary>What happens to examples longer than <see cref="MaxLength"/>. Default <see cref="TruncationMode.TruncateResponse"/> (cut the response's end).</summary>
    public TruncationMode Truncation { get; set; } = TruncationMode.TruncateResponse;

    /// <summary>Take the loss on prompt tokens too. Default false: only responses are learned, as in the paper.</summary>
    public bool TrainOnPrompt { get; set; }

    /// <summary>Optional validation data with the same columns, evaluated with noise off. Default null.</summary>
    public IDataView? ValidationSet { get; set; }

    /// <summary>
    /// When <see cref="ValidationSet"/> is null, the fraction of the training rows held out (seeded) for validation;
    /// 0 = no validation. Range: [0, 1). Default 0.
    /// </summary>
    public double ValidationFraction { get; set; }

    // ---- NEFTune noise ----

    /// <summary>NEFTune noise scale alpha; the paper uses 5, 10 and 15; 0 = plain fine-tuning. Range: ≥ 0. Default 5.</summary>
    public double NoiseAlpha { get; set; } = 5;

    /// <summary>Which sequence length enters <c>alpha / sqrt(L·d)</c>. Default <see cref="NeftuneScaling.PerSequence"/>.</summary>
    public NeftuneScaling NoiseScaling { get; set; } = NeftuneScaling.PerSequence;

    /// <summary>Noise distribution. Default <see cref="NeftuneDistribution.Uniform"/> (the paper's method).</summary>
    public NeftuneDistribution NoiseDistribution { get; set; } = NeftuneDistribution.Uniform;

    // ---- Trainer ----

    /// <summary>Peak learning rate. Range: &gt; 0. Default 5e-5.</summary>
    public double LearningRate { get; set; } = 5e-5;

    /// <summary>Decoupled (AdamW) weight decay; norms and biases are excluded. Range: ≥ 0. Default 0.</summary>
    public double WeightDecay { get; set; }

    /// <summary>AdamW beta1. Range: [0, 1). Default 0.9.</summary>
    public double AdamBeta1 { get; set; } = 0.9;

    /// <summary>AdamW beta2. Range: [0, 1). Default 0.999.</summary>
    public double AdamBeta2 { get; set; } = 0.999;

    /// <summary>AdamW epsilon. Range: &gt; 0. Default 1e-8.</summary>
    public double AdamEpsilon { get; set; } = 1e-8;

    /// <summary>Learning-rate shape after warmup. Default <see cref="LearningRateSchedule.Cosine"/>.</summary>
    public LearningRateSchedule LearningRateSchedule { get; set; } = LearningRateSchedule.Cosine;

    /// <summary>Fraction of the optimizer steps spent warming up linearly. Range: [0, 1]. Default 0.03.</summary>
    public double WarmupRatio { get; set; } = 0.03;

    /// <summary>Passes over the training data. Range: ≥ 1. Default 3.</summary>
    public int NumberOfEpochs { get; set; } = 3;

    /// <summary>If set, training stops after this many optimizer steps (overrides <see cref="NumberOfEpochs"/>). Range: ≥ 1. Default null.</summary>
    public int? MaxSteps { get; set; }

    /// <summary>Sequences per micro-batch. Range: ≥ 1. Default 8.</summary>
    public int BatchSize { get; set; } = 8;

    /// <summary>Micro-batches per optimizer step. Range: ≥ 1. Default 1.</summary>
    public int GradientAccumulationSteps { get; set; } = 1;

    /// <summary>Clip the global gradient norm to this value; 0 = off. Range: ≥ 0. Default 1.</summary>
    public double MaxGradNorm { get; set; } = 1.0;

    /// <summary>
    /// Run forward and backward in bfloat16 over float32 master weights. Default false. Only on CPUs with fast
    /// bfloat16 products (avx512_bf16/amx_bf16); elsewhere training computes in float32.
    /// </summary>
    public bool BFloat16 { get; set; }

    /// <summary>
    /// Recompute each decoder layer during backward instead of keeping its activations (activation checkpointing):
    /// less memory for long sequences and large models, about a third more compute, the same gradients. Default false.
    /// </summary>
    public bool GradientCheckpointing { get; set; }

    /// <summary>
    /// Refuse full fine-tuning up front, with the estimate in the message, when weights, gradients, AdamW state and
    /// activations would not fit in the memory the machine has available. Default true.
    /// </summary>
    public bool CheckMemory { get; set; } = true;

    /// <summary>
    /// Train LoRA adapters over a frozen (optionally int8/NF4-quantized) base instead of the full model; null = full
    /// fine-tuning. The adapters are merged into the model the transformer generates with; with an
    /// <see cref="OutputDirectory"/> the adapter is also saved there in the PEFT layout. Default null.
    /// </summary>
    public LoraOptions? Lora { get; set; }

    /// <summary>Evaluate every N optimizer steps (and at the end); 0 = at the end of each epoch. Range: ≥ 0. Default 0.</summary>
    public int EvalSteps { get; set; }

    /// <summary>Write a checkpoint every N optimizer steps when <see cref="OutputDirectory"/> is set; 0 = only at the end. Range: ≥ 0. Default 0.</summary>
    public int SaveSteps { get; set; }

    /// <summary>How many checkpoints to keep (newest first); 0 = all. Range: ≥ 0. Default 2.</summary>
    public int SaveTotalLimit { get; set; } = 2;

    /// <summary>Log a progress line every N optimizer steps. Range: ≥ 1. Default 1.</summary>
    public int LoggingSteps { get; set; } = 1;

    /// <summary>Stop after this many evaluations without a lower validation loss; 0 = never. Range: ≥ 0. Default 0.</summary>
    public int EarlyStoppingPatience { get; set; }

    /// <summary>Training examples (a fixed seeded sample) whose noise-off loss is measured at each evaluation; 0 = none. Range: ≥ 0. Default 64.</summary>
    public int NoiseOffTrainSampleSize { get; set; } = 64;

    /// <summary>
    /// Pack several short examples into rows of up to this many tokens (attention and positions stay inside each
    /// example); null = one example per row. Range: ≥ 2. Default null.
    /// </summary>
    public int? PackingLength { get; set; }

    /// <summary>Sort examples by length within mega-batches to cut padding. Default true.</summary>
    public bool GroupByLength { get; set; } = true;

    /// <summary>Seed of data order, noise and the validation split; null = drawn from the <see cref="MLContext"/> (reproducible when it has a seed). Default null.</summary>
    public int? Seed { get; set; }

    /// <summary>Folder for checkpoints, metrics and the final Hugging Face model; null = keep everything in memory. Default null.</summary>
    public string? OutputDirectory { get; set; }

    /// <summary>Metrics file (JSON lines); null = <c>OutputDirectory/metrics.jsonl</c> when there is an output folder. Default null.</summary>
    public string? MetricsPath { get; set; }

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
    public int MaxNewTokens { get; set; } = 128;

    /// <summary>Sampling temperature; 0 = greedy (deterministic). Range: ≥ 0. Default 0.</summary>
    public double Temperature { get; set; }

    /// <summary>When sampling, keep only the K most likely tokens; 0 = off. Range: ≥ 0. Default 0.</summary>
    public int TopK { get; set; }

    /// <summary>When sampling, nucleus threshold; 1 = off. Range: (0, 1]. Default 1.</summary>
    public double TopP { get; set; } = 1.0;

    /// <summary>Repetition penalty over prompt and generated tokens; 1 = off. Range: &gt; 0. Default 1.2 (the NEFTune authors' evaluation setting).</summary>
    public double RepetitionPenalty { get; set; } = 1.2;

    /// <summary>Generation stops at the first of these strings, which is cut off. Default none.</summary>
    public IReadOnlyList<string> StopStrings { get; set; } = Array.Empty<string>();

    /// <summary>Seed of sampling (used when <see cref="Temperature"/> &gt; 0); each row starts from it. Default 0.</summary>
    public long GenerationSeed { get; set; }

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
        InstructionPrompts.Resolve(PromptTemplate);
        ToExampleTokenizerOptions().Validate();
        Check(MaxLength >= 8, nameof(MaxLength), MaxLength, "must be at least 8");
        Check(Enum.IsDefined(Truncation), nameof(Truncation), Truncation, "is not a truncation mode");
        Check(ValidationFraction is >= 0 and < 1, nameof(ValidationFraction), ValidationFraction, "must be in [0, 1)");
        Check(GenerationBatchSize >= 1, nameof(GenerationBatchSize), GenerationBatchSize, "must be at least 1");
        Check(StopStrings is not null && StopStrings.All(s => !string.IsNullOrEmpty(s)), nameof(StopStrings), null, "must not be null or hold empty strings");
        if (Device is not null) ComputeDevice.Parse(Device, $"{nameof(NeftuneInstructionTuningOptions)}.{nameof(Device)}");
        ToTrainingOptions(0).Validate();
        ToGenerationOptions().Validate();
    }

    internal ExampleTokenizerOptions ToExampleTokenizerOptions() => new() { MaxLength = MaxLength, Truncation = Truncation, TrainOnPrompt = TrainOnPrompt };

    internal TrainingOptions ToTrainingOptions(long seed) => new()
    {
        Template = PromptTemplate,
        MaxLength = MaxLength,
        Truncation = Truncation,
        TrainOnPrompt = TrainOnPrompt,
        ValidationFraction = ValidationFraction,
        Noise = new NeftuneOptions { Alpha = NoiseAlpha, Scaling = NoiseScaling, Distribution = NoiseDistribution },
        LearningRate = LearningRate,
        WeightDecay = WeightDecay,
        AdamBeta1 = AdamBeta1,
        AdamBeta2 = AdamBeta2,
        AdamEpsilon = AdamEpsilon,
        Scheduler = LearningRateSchedule,
        WarmupRatio = WarmupRatio,
        Epochs = NumberOfEpochs,
        MaxSteps = MaxSteps,
        BatchSize = BatchSize,
        GradientAccumulationSteps = GradientAccumulationSteps,
        MaxGradNorm = MaxGradNorm,
        BFloat16 = BFloat16,
        GradientCheckpointing = GradientCheckpointing,
        CheckMemory = CheckMemory,
        EvalSteps = EvalSteps,
        SaveSteps = SaveSteps,
        SaveTotalLimit = SaveTotalLimit,
        LoggingSteps = LoggingSteps,
        EarlyStoppingPatience = EarlyStoppingPatience,
        NoiseOffTrainSampleSize = NoiseOffTrainSampleSize,
        PackingLength = PackingLength,
        GroupByLength = GroupByLength,
        Seed = seed,
        OutputDirectory = OutputDirectory,
        MetricsPath = MetricsPath,
        Device = Device is null ? ComputeDevice.Cpu : ComputeDevice.Parse(Device),
        Lora = Lora is null ? null : Lora with { BaseModelNameOrPath = Lora.BaseModelNameOrPath ?? ModelPath },
    };

    internal GenerationOptions ToGenerationOptions() => new()
    {
        MaxNewTokens = MaxNewTokens,
        Temperature = Temperature,
        TopK = TopK,
        TopP = TopP,
        RepetitionPenalty = RepetitionPenalty,
        StopStrings = StopStrings?.ToArray() ?? Array.Empty<string>(),
        Seed = GenerationSeed,
    };
}
