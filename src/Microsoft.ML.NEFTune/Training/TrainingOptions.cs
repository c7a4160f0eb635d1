using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Generation;
using Microsoft.ML.NEFTune.Lora;
using Microsoft.ML.NEFTune.Noise;
using Microsoft.ML.NEFTune.IO;

namespace Microsoft.ML.NEFTune.Training;

/// <summary>
/// Settings of a fine-tuning run: the one settings model of the library, the <c>neftune train</c> and <c>compare</c>
/// commands (which map their flags onto it) and the ML.NET estimator (whose options are a view of it). The defaults
/// stated here are the defaults everywhere. Where the NEFTune paper fixes a value the default follows it (noise alpha 5,
/// uniform, per-sequence length; the Alpaca template; response-only loss); the rest are small-machine defaults
/// (micro-batches of 8 without accumulation, no length grouping, seed 42). <see cref="PaperRecipe"/> gives the
/// authors' whole Alpaca setup.
/// </summary>
public sealed record TrainingOptions
{
    /// <summary>The seed every front end uses unless told otherwise.</summary>
    public const long DefaultSeed = 42;

    /// <summary>
    /// The NEFTune authors' Alpaca setup: Alpaca template (to the byte, response-only loss), alpha 5 uniform noise with
    /// per-sequence length, learning rate 5e-5, 3 epochs, examples of up to 512 tokens, and an effective batch of 128
    /// sequences reached through gradient accumulation (<paramref name="microBatchSize"/> × 128 / it). The schedule is
    /// Stanford Alpaca's (cosine, 3% warmup, no weight decay, clipping at 1), on which the authors' code builds.
    /// </summary>
    /// <param name="microBatchSize">Sequences per micro-batch, a divisor of 128. Default 8 (16 accumulation steps).</param>
    public static TrainingOptions PaperRecipe(int microBatchSize = 8)
    {
        if (microBatchSize <= 0 || PaperEffectiveBatchSize % microBatchSize != 0)
            throw new ArgumentOutOfRangeException(nameof(microBatchSize), microBatchSize, $"The micro-batch size must divide the paper's effective batch of {PaperEffectiveBatchSize}.");
        return new TrainingOptions
        {
            Template = "alpaca", MaxLength = 512, TrainOnPrompt = false,
            Noise = new NeftuneOptions { Alpha = 5, Distribution = NeftuneDistribution.Uniform, Scaling = NeftuneScaling.PerSequence },
            LearningRate = 5e-5, Epochs = 3, Scheduler = LearningRateSchedule.Cosine, WarmupRatio = 0.03, WeightDecay = 0, MaxGradNorm = 1,
            BatchSize = microBatchSize, GradientAccumulationSteps = PaperEffectiveBatchSize / microBatchSize, GroupByLength = false,
        };
    }

    /// <summary>Sequences per optimizer step in the paper's runs (4 GPUs × 4 sequences × 8 accumulation steps).</summary>
    public const int PaperEffectiveBatchSize = 128;

    /// <summary>NEFTune noise; <c>Alpha = 0</c> is plain fine-tuning. Default alpha 5, per-sequence, uniform.</summary>
    public NeftuneOptions Noise { get; init; } = new();

    /// <summary>
    /// Template name: <c>model</c> (the model's own chat template, with the loss on assistant turns; <c>alpaca</c> when
    /// it has none), <c>alpaca</c>, <c>llama2-chat</c>, <c>chatml</c>, <c>vicuna</c>; or a template file. Default model.
    /// </summary>
    public string Template { get; init; } = "model";

    /// <summary>Tokens per example (prompt + response, BOS and EOS included); longer examples are truncated or dropped. Default 512.</summary>
    public int MaxLength { get; init; } = 512;

    /// <summary>How over-long examples are handled. Default: cut the response's end.</summary>
    public TruncationMode Truncation { get; init; } = TruncationMode.TruncateResponse;

    /// <summary>Take the loss on prompt tokens too. Default false (response-only loss, as in the paper).</summary>
    public bool TrainOnPrompt { get; init; }

    /// <summary>Fraction of the training records held out (seeded by <see cref="Seed"/>) for validation when no validation data is given; 0 = none. Default 0.</summary>
    public double ValidationFraction { get; init; }

    /// <summary>Peak learning rate. Default 5e-5.</summary>
    public double LearningRate { get; init; } = 5e-5;

    /// <summary>Decoupled weight decay (norms and biases excluded). Default 0.</summary>
    public double WeightDecay { get; init; }

    public double AdamBeta1 { get; init; } = 0.9;
    public double AdamBeta2 { get; init; } = 0.999;
    public double AdamEpsilon { get; init; } = 1e-8;

    /// <summary>Schedule after warmup. Default cosine.</summary>
    public LearningRateSchedule Scheduler { get; init; } = LearningRateSchedule.Cosine;

    /// <summary>Fraction of the optimizer steps spent warming up linearly. Default 0.03.</summary>
    public double WarmupRatio { get; init; } = 0.03;

    /// <summary>Passes over the training data. Default 3.</summary>
    public int Epochs { get; init; } = 3;

    /// <summary>If set, the run stops after this many optimizer steps (overrides <see cref="Epochs"/>).</summary>
    public int? MaxSteps { get; init; }

    /// <summary>Sequences per micro-batch. Default 8.</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>Micro-batches per optimizer step. Default 1.</summary>
    public int GradientAccumulationSteps { get; init; } = 1;

    /// <summary>Clip the global gradient norm to this value; 0 = off. Default 1.</summary>
    public double MaxGradNorm { get; init; } = 1.0;

    /// <summary>
    /// Run forward and backward in bfloat16 over float32 master weights. Default false. Honoured only on CPUs with
    /// fast bfloat16 products (<see cref="CpuFeatures.FastBFloat16"/>); elsewhere the trainer computes in float32
    /// (bfloat16 products there run far slower than float32) and says so in <see cref="NeftuneTrainer.ComputeNote"/>.
    /// </summary>
    public bool BFloat16 { get; init; }

    /// <summary>
    /// Recompute each decoder layer during backward instead of keeping its activations (activation checkpointing):
    /// one layer's activations alive at a time for about a third more compute. Gradients are unchanged. Default false.
    /// </summary>
    public bool GradientCheckpointing { get; init; }

    /// <summary>
    /// Refuse full fine-tuning up front when its estimated memory (<see cref="TrainingMemory"/>) exceeds what the
    /// machine has available. Default true.
    /// </summary>
    public bool CheckMemory { get; init; } = true;

    /// <summary>Evaluate every N optimizer steps (and at the end); 0 = only at the end of each epoch. Default 0.</summary>
    public int EvalSteps { get; init; }

    /// <summary>Write <c>checkpoint-STEP</c> every N optimizer steps; 0 = only at the end. Default 0.</summary>
    public int SaveSteps { get; init; }

    /// <summary>How many <c>checkpoint-*</c> folders to keep (newest first); 0 = all. Default 2.</summary>
    public int SaveTotalLimit { get; init; } = 2;

    /// <summary>Write a metrics line every N optimizer steps. Default 1.</summary>
    public int LoggingSteps { get; init; } = 1;

    /// <summary>Stop after this many evaluations without a lower validation loss; 0 = never. Default 0.</summary>
    public int EarlyStoppingPatience { get; init; }

    /// <summary>Training examples (a fixed seeded sample) on which the noise-off training loss is measured at each evaluation. Default 64.</summary>
    public int NoiseOffTrainSampleSize { get; init; } = 64;

    /// <summary>
    /// Pack several short examples into rows of up to this many tokens (attention stays inside each example, and
    /// per-sequence noise uses each example's own length); null = one example per row. Default null.
    /// </summary>
    public int? PackingLength { get; init; }

    /// <summary>Sort examples by length within mega-batches to cut padding. It changes which examples share a batch, which
    /// neither the paper's runs nor Hugging Face's default do, so it is off unless asked for. Default false.</summary>
    public bool GroupByLength { get; init; }

    /// <summary>Seed of data order, split, noise and initialisation, the same rule in every front end. Default 42.</summary>
    public long Seed { get; init; } = DefaultSeed;

    /// <summary>Folder for checkpoints, metrics and the final model; null = keep everything in memory.</summary>
    public string? OutputDirectory { get; init; }

    /// <summary>Metrics file (JSON lines); default <c>OUT/metrics.jsonl</c> when there is an output folder.</summary>
    public string? MetricsPath { get; init; }

    /// <summary>Device for training: <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c> (see <see cref="IO.ComputeDevice"/>). Default cpu.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>
    /// LoRA adapters over a frozen (optionally int8/NF4-quantized) base; null = full fine-tuning. The trainer attaches
    /// them (seeded by <see cref="Seed"/>) unless the model already has adapters, and then saves the adapter in the
    /// PEFT layout instead of the full model. Default null.
    /// </summary>
    public LoraOptions? Lora { get; init; }

    /// <summary>
    /// Decoding of the answers a tuned model gives where the run generates them (the ML.NET transformer, <c>compare</c>,
    /// <c>train --sample-prompts</c>). Default greedy with a repetition penalty of 1.2, the authors' evaluation setting.
    /// </summary>
    public GenerationOptions Generation { get; init; } = new() { RepetitionPenalty = 1.2 };

    private static readonly JsonSerializerOptions JsonFormat = new() { WriteIndented = true, Converters = { new JsonStringEnumConverter() } };

    /// <summary>Every setting as indented JSON (enums by name), e.g. to record or compare the effective settings of a run.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonFormat);

    /// <summary>Throws an exception naming the first invalid setting.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Noise, nameof(Noise));
        ArgumentNullException.ThrowIfNull(Generation, nameof(Generation));
        Noise.Validate();
        Generation.Validate();
        Lora?.Validate();
        IO.ComputeDevice.Parse(Device, nameof(Device));
        void Check(bool ok, string name, object value, string rule) { if (!ok) throw new ArgumentOutOfRangeException(name, value, $"{name} {rule}."); }
        if (string.IsNullOrWhiteSpace(Template)) throw new ArgumentException($"{nameof(Template)} must name a template ({string.Join(", ", PromptTemplate.BuiltInNames)}) or a template file.", nameof(Template));
        Check(MaxLength > 0, nameof(MaxLength), MaxLength, "must be positive");
        Check(Enum.IsDefined(Truncation), nameof(Truncation), Truncation, "is not a truncation mode");
        Check(ValidationFraction is >= 0 and < 1, nameof(ValidationFraction), ValidationFraction, "must be in [0, 1)");
        Check(LearningRate > 0 && double.IsFinite(LearningRate), nameof(LearningRate), LearningRate, "must be a positive number");
        Check(WeightDecay >= 0, nameof(WeightDecay), WeightDecay, "must be >= 0");
        Check(AdamBeta1 is >= 0 and < 1, nameof(AdamBeta1), AdamBeta1, "must be in [0, 1)");
        Check(AdamBeta2 is >= 0 and < 1, nameof(AdamBeta2), AdamBeta2, "must be in [0, 1)");
        Check(AdamEpsilon > 0, nameof(AdamEpsilon), AdamEpsilon, "must be > 0");
        Check(WarmupRatio is >= 0 and <= 1, nameof(WarmupRatio), WarmupRatio, "must be in [0, 1]");
        Check(Epochs > 0, nameof(Epochs), Epochs, "must be positive");
        Check(MaxSteps is null or > 0, nameof(MaxSteps), MaxSteps!, "must be positive");
        Check(BatchSize > 0, nameof(BatchSize), BatchSize, "must be positive");
        Check(GradientAccumulationSteps > 0, nameof(GradientAccumulationSteps), GradientAccumulationSteps, "must be positive");
        Check(MaxGradNorm >= 0, nameof(MaxGradNorm), MaxGradNorm, "must be >= 0");
        Check(EvalSteps >= 0, nameof(EvalSteps), EvalSteps, "must be >= 0");
        Check(SaveSteps >= 0, nameof(SaveSteps), SaveSteps, "must be >= 0");
        Check(SaveTotalLimit >= 0, nameof(SaveTotalLimit), SaveTotalLimit, "must be >= 0");
        Check(LoggingSteps > 0, nameof(LoggingSteps), LoggingSteps, "must be positive");
        Check(EarlyStoppingPatience >= 0, nameof(EarlyStoppingPatience), EarlyStoppingPatience, "must be >= 0");
        Check(PackingLength is null or > 1, nameof(PackingLength), PackingLength!, "must be at least 2");
        Check(NoiseOffTrainSampleSize >= 0, nameof(NoiseOffTrainSampleSize), NoiseOffTrainSampleSize, "must be >= 0");
    }
}
