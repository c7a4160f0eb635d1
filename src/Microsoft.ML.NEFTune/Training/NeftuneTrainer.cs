using System.Diagnostics;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Lora;
using Microsoft.ML.NEFTune.Modeling;
using Microsoft.ML.NEFTune.Noise;
using TorchSharp;
using static TorchSharp.torch;
using Microsoft.ML.NEFTune.IO;

namespace Microsoft.ML.NEFTune.Training;

/// <summary>
/// Fine-tunes a <see cref="LlamaForCausalLM"/> with NEFTune noisy embeddings: AdamW over float32 master weights,
/// warmup and decay schedules, gradient accumulation and clipping, optional bfloat16 compute, noise-off
/// evaluation, checkpoints that resume bit-identically, and cancellation seen at every step boundary. With LoRA
/// (<see cref="TrainingOptions.Lora"/>, or adapters already on the model) only the adapters are trained and saved.
/// </summary>
public sealed class NeftuneTrainer : IDisposable
{
    private readonly LlamaForCausalLM model;
    private readonly TrainingOptions options;
    private readonly TrainingBatches train;
    private readonly TrainingBatches? validation;
    private readonly TrainingBatches? trainSample;
    private readonly AdamW optimizer;
    private readonly NeftuneNoise noise;
    private readonly LearningRateScheduler scheduler;
    private readonly BFloat16Compute? bf16;
    private readonly MetricsLog? metrics;
    private readonly string? tokenizerDirectory;
    private TrainerState state;
    private string? lastCheckpoint;

    /// <param name="model">The model to tune in place (float32 master weights).</param>
    /// <param name="trainExamples">Tokenized training examples (labels −100 where no loss is taken).</param>
    /// <param name="validationExamples">Optional validation examples, evaluated with noise off.</param>
    /// <param name="options">Run settings.</param>
    /// <param name="padId">Id used to pad batches.</param>
    /// <param name="tokenizerDirectory">Folder whose tokenizer files are copied into saved models.</param>
    public NeftuneTrainer(LlamaForCausalLM model, IReadOnlyList<TokenizedExample> trainExamples, IReadOnlyList<TokenizedExample>? validationExamples,
        TrainingOptions options, int padId = 0, string? tokenizerDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(trainExamples);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (trainExamples.Count == 0) throw new ArgumentException("There are no training examples.", nameof(trainExamples));
        if (Neftune.AttachedNoise(model) is { } attached)
            throw new InvalidOperationException(
                $"The model already has {attached} attached, and the trainer adds {options.Noise.Describe()} from TrainingOptions.Noise; detach the first (Neftune.Detach) so that noise is added once.");
        if (options.GradientCheckpointing && !model.Model.SupportsGradientCheckpointing)
            throw new NotSupportedException($"Gradient checkpointing is not supported for {model.Config.ModelType} models; train without it (TrainingOptions.GradientCheckpointing, --gradient-checkpointing).");
        this.model = model;
        this.options = options;
        this.tokenizerDirectory = tokenizerDirectory;
        var device = new Device(IO.ComputeDevice.Require(options.Device, setting: nameof(TrainingOptions) + "." + nameof(TrainingOptions.Device)));
        // Adapters (and a quantized base) first: a bfloat16 base is quantized from its bfloat16 weights and never
        // exists in float32; only what stays a plain parameter is converted to the float32 master precision.
        if (options.Lora is not null && !Lora.LoraAdapters.HasAdapters(model)) Lora.LoraAdapters.Apply(model, options.Lora, options.Seed);
        IsLora = Lora.LoraAdapters.HasAdapters(model);
        if (!IsLora && options.CheckMemory && TrainingMemory.AvailableBytes() is long available)
        {
            long parameters = model.ParameterCount;
            long resident = model.parameters().Sum(p => p.numel() * p.ElementSize);
            TrainingMemory.ForFullFineTuning(model.Config, parameters, options.BatchSize, options.PackingLength ?? options.MaxLength,
                options.BFloat16 && CpuFeatures.FastBFloat16, options.GradientCheckpointing).EnsureFits(available, resident, parameters);
        }
        model.to(ScalarType.Float32).to(device);
        train = new TrainingBatches(trainExamples, options.BatchSize, options.Seed, options.GroupByLength, padId, shuffle: true, options.PackingLength);
        if (validationExamples is { Count: > 0 })
            validation = new TrainingBatches(validationExamples, options.BatchSize, options.Seed, false, padId, shuffle: false);
        if (options.NoiseOffTrainSampleSize > 0)
            trainSample = new TrainingBatches(TrainingBatches.Sample(trainExamples, options.NoiseOffTrainSampleSize, options.Seed), options.BatchSize, options.Seed, false, padId, shuffle: false);
        StepsPerEpoch = (train.BatchCount + options.GradientAccumulationSteps - 1) / options.GradientAccumulationSteps;
        TotalSteps = options.MaxSteps ?? (long)StepsPerEpoch * options.Epochs;
        scheduler = new LearningRateScheduler(options.LearningRate, options.Scheduler, (int)Math.Ceiling(options.WarmupRatio * TotalSteps), (int)TotalSteps);
        optimizer = new AdamW(model.named_parameters().Select(p => (p.name, p.parameter)), options.AdamBeta1, options.AdamBeta2, options.AdamEpsilon, options.WeightDecay);
        noise = new NeftuneNoise(options.Noise, RandomStreams.NoiseSeed(options.Seed), device);   // its own stream: LoRA or dropout never shift it
        bf16 = options.BFloat16 && CpuFeatures.FastBFloat16 ? new BFloat16Compute(model) : null;
        if (options.BFloat16 && bf16 is null)
            ComputeNote = "bfloat16 compute requested, but this CPU has no fast bfloat16 matrix products (no avx512_bf16/amx_bf16): computing in float32";
        state = new TrainerState { Seed = options.Seed };
        if (options.OutputDirectory is not null) CheckpointStore.RemoveStaleTemporaries(options.OutputDirectory);
        var metricsPath = OutputLayout.MetricsPath(options);
        metrics = metricsPath is null ? null : new MetricsLog(metricsPath);
    }

    /// <summary>One line saying why the run computes differently from what was asked (bfloat16 on a CPU without fast bfloat16), else null.</summary>
    public string? ComputeNote { get; }

    /// <summary>True when the model carries LoRA adapters, which are then the only trained parameters.</summary>
    public bool IsLora { get; }

    public int StepsPerEpoch { get; }
    public long TotalSteps { get; }

    /// <summary>
    /// The tuned model (float32, evaluation mode, no noise attached once <see cref="Train"/> returns); with LoRA it still
    /// holds its adapters (<see cref="Lora.LoraAdapters.Merge"/> folds them in).
    /// </summary>
    public LlamaForCausalLM Model => model;

    /// <summary>Continues from a checkpoint folder, or from the newest checkpoint in an output folder.</summary>
    public void ResumeFrom(string path)
    {
        var checkpoint = CheckpointStore.Resolve(path);
        CheckpointStore.LoadInto(checkpoint, model, optimizer, noise.Generator, out state);
        lastCheckpoint = checkpoint;
        metrics?.TruncateAfter(state.GlobalStep);
    }

    /// <summary>Trains until the step budget, early stopping or cancellation.</summary>
    /// <param name="progress">Reports after each logged step and evaluation, on the training thread.</param>
    /// <param name="cancellationToken">Checked on the training thread before every step and right after every optimizer step;
    /// once it is seen the run writes a checkpoint (when it has an output folder) and returns with <see cref="TrainingResult.Cancelled"/>.</param>
    /// <param name="stopRequested">Polled wherever <paramref name="cancellationToken"/> is checked, for hosts that signal
    /// cancellation with a flag rather than a token (ML.NET's <c>MLContext.CancelExecution</c>).</param>
    public TrainingResult Train(IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default, Func<bool>? stopRequested = null)
    {
        bool StopRequested() => cancellationToken.IsCancellationRequested || (stopRequested?.Invoke() ?? false);
        var history = new List<TrainingProgress>();
        var compute = bf16?.Model ?? model;
        compute.Model.EmbeddingTransform = noise;
        compute.Model.GradientCheckpointing = options.GradientCheckpointing;
        compute.Model.CheckpointGenerators = Lora.LoraAdapters.DropoutGenerator(model) is { } dropout ? new[] { dropout } : Array.Empty<Generator>();
        NativeMemoryTuning.EnterTrainingLoop();
        var clock = Stopwatch.StartNew();
        long startStep = state.GlobalStep, tokensSinceLog = 0;
        double lossSinceLog = 0; int stepsSinceLog = 0;
        double? lastTrainLoss = null, lastVal = null, lastNoiseOff = null;
        bool cancelled = false, stoppedEarly = false;
        var logClock = Stopwatch.StartNew();
        try
        {
            while (state.GlobalStep < TotalSteps)
            {
                if (StopRequested()) { cancelled = true; break; }
                var (loss, tokens, gradNorm) = OptimizerStep(compute);
                if (!double.IsFinite(loss) || !double.IsFinite(gradNorm)) throw new TrainingDivergedException(state.GlobalStep + 1, loss, lastCheckpoint, gradNorm);
                state = Advance(state);
                lossSinceLog += loss; stepsSinceLog++; tokensSinceLog += tokens; lastTrainLoss = loss;
                bool last = state.GlobalStep == TotalSteps;
                if (state.GlobalStep % options.LoggingSteps == 0 || last)
                {
                    double elapsed = logClock.Elapsed.TotalSeconds;
                    double stepsDone = state.GlobalStep - startStep;
                    var report = new TrainingProgress
                    {
                        Step = state.GlobalStep, TotalSteps = TotalSteps, Epoch = EpochProgress(),
                        TrainLoss = lossSinceLog / stepsSinceLog, LearningRate = scheduler.At(state.GlobalStep - 1), GradNorm = gradNorm,
                        TokensPerSecond = tokensSinceLog / Math.Max(elapsed, 1e-9),
                        Eta = TimeSpan.FromSeconds(clock.Elapsed.TotalSeconds / stepsDone * (TotalSteps - state.GlobalStep)),
                    };
                    Report(report, history, progress);
                    lossSinceLog = 0; stepsSinceLog = 0; tokensSinceLog = 0; logClock.Restart();
                }
                FaultInjection.StepCompleted(state.GlobalStep, cancellationToken);
                if (StopRequested()) { cancelled = true; break; }   // right after the optimizer step: seen within one step
                bool epochEnd = state.BatchIndex == 0;
                if ((options.EvalSteps > 0 && state.GlobalStep % options.EvalSteps == 0) || (options.EvalSteps == 0 && epochEnd) || last)
                {
                    (lastVal, lastNoiseOff) = Evaluate(history, progress);
                    logClock.Restart();                                   // evaluation time is not training throughput
                    if (options.EarlyStoppingPatience > 0 && state.EvaluationsWithoutImprovement >= options.EarlyStoppingPatience) stoppedEarly = true;
                }
                if (options.OutputDirectory is not null && ((options.SaveSteps > 0 && state.GlobalStep % options.SaveSteps == 0) || last || stoppedEarly))
                    SaveCheckpoint();
                if (stoppedEarly) break;
            }
            if (cancelled && options.OutputDirectory is not null && state.GlobalStep > 0) SaveCheckpoint();
            if (!cancelled && options.OutputDirectory is not null) SaveModel(options.OutputDirectory, final: true);
        }
        finally
        {
            compute.Model.GradientCheckpointing = model.Model.GradientCheckpointing = false;
            compute.Model.EmbeddingTransform = null;
            model.Model.EmbeddingTransform = null;
            model.eval();
        }
        return new TrainingResult
        {
            Steps = state.GlobalStep, FinalTrainLoss = lastTrainLoss, FinalValidationLoss = lastVal, FinalTrainLossNoiseOff = lastNoiseOff,
            BestValidationLoss = state.BestValidationLoss, BestStep = state.BestStep, Cancelled = cancelled, StoppedEarly = stoppedEarly, History = history,
        };
    }

    private double EpochProgress() => state.Epoch + (double)state.BatchIndex / train.BatchCount;

    private TrainerState Advance(TrainerState s)
    {
        int next = s.BatchIndex + options.GradientAccumulationSteps;
        return next >= train.BatchCount
            ? s with { GlobalStep = s.GlobalStep + 1, Epoch = s.Epoch + 1, BatchIndex = 0 }
            : s with { GlobalStep = s.GlobalStep + 1, BatchIndex = next };
    }

    /// <summary>One optimizer step over up to K micro-batches; returns the per-token loss, tokens seen and the gradient norm.</summary>
    private (double Loss, long Tokens, double GradNorm) OptimizerStep(LlamaForCausalLM compute)
    {
        int count = Math.Min(options.GradientAccumulationSteps, train.BatchCount - state.BatchIndex);
        var micro = Enumerable.Range(state.BatchIndex, count).Select(i => train.Batch(state.Epoch, i)).ToList();
        long labelled = Math.Max(1, micro.Sum(b => b.LabelledTokens));
        bf16?.CopyWeightsFromMaster();
        compute.train();
        optimizer.ZeroGrad();
        double lossSum = 0;
        foreach (var batch in micro)
        {
            using var scope = NewDisposeScope();
            var (ids, labels, seq) = batch.ToTensors(model.Model.EmbeddingWeight.device);
            var (sum, _) = compute.LossSum(ids, labels, seq);
            (sum / labelled).backward();                       // normalised by the labelled tokens of the whole step
            lossSum += sum.ToDouble();
            bf16?.AccumulateGradientsIntoMaster();             // bf16 mode: each micro-batch's gradient is summed in float32
        }
        double norm = ClipGradients();
        optimizer.StepWith(scheduler.At(state.GlobalStep));
        return (lossSum / labelled, micro.Sum(b => b.TotalTokens), norm);
    }

    private double ClipGradients()
    {
        using var scope = NewDisposeScope();
        var grads = optimizer.Parameters.Select(p => p.grad).Where(g => g is not null).ToList();
        if (grads.Count == 0) return 0;
        double norm = stack(grads.Select(g => g!.norm()).ToArray()).norm().ToDouble();
        if (options.MaxGradNorm > 0 && norm > options.MaxGradNorm)
        {
            using var _ = no_grad();
            using Scalar coefficient = options.MaxGradNorm / (norm + 1e-6);   // held: see AdamW.StepWith
            foreach (var g in grads) g!.mul_(coefficient);
        }
        return norm;
    }

    /// <summary>Noise-off validation loss and training loss on the fixed sample, with the master weights.</summary>
    private (double? Val, double? NoiseOff) Evaluate(List<TrainingProgress> history, IProgress<TrainingProgress>? progress)
    {
        FaultInjection.EvaluationStarting(state.GlobalStep);
        double? val = validation is null ? null : MeanLoss(validation);
        double? noiseOff = trainSample is null ? null : MeanLoss(trainSample);
        if (val is double v)
        {
            bool better = state.BestValidationLoss is not double best || v < best;
            state = better
                ? state with { BestValidationLoss = v, BestStep = state.GlobalStep, EvaluationsWithoutImprovement = 0 }
                : state with { EvaluationsWithoutImprovement = state.EvaluationsWithoutImprovement + 1 };
            if (better && options.OutputDirectory is not null) SaveModel(OutputLayout.BestModelDirectory(options.OutputDirectory), final: false);
        }
        Report(new TrainingProgress { Step = state.GlobalStep, TotalSteps = TotalSteps, Epoch = EpochProgress(), ValidationLoss = val, TrainLossNoiseOff = noiseOff }, history, progress);
        return (val, noiseOff);
    }

    /// <summary>Per-token loss of <paramref name="data"/> in evaluation mode (no noise).</summary>
    public double MeanLoss(TrainingBatches data) => Evaluation.MeanLoss(model, data);

    /// <summary>
    /// The full model in the HF layout; with LoRA the adapter in the PEFT layout instead, and at the end of the run
    /// also the merged model in <c>merged/</c> (unless <see cref="LoraOptions.SaveMergedModel"/> is off).
    /// </summary>
    private void SaveModel(string directory, bool final)
    {
        if (!IsLora)
        {
            Microsoft.ML.NEFTune.IO.HuggingFaceCheckpoint.Save(model, directory, tokenizerDirectory);
            return;
        }
        Lora.LoraAdapters.SaveAdapter(model, directory, options.Lora?.BaseModelNameOrPath);
        if (final && (options.Lora?.SaveMergedModel ?? true))
            Lora.LoraAdapters.SaveMerged(model, OutputLayout.MergedModelDirectory(directory), tokenizerDirectory);
    }

    private void SaveCheckpoint()
    {
        lastCheckpoint = CheckpointStore.Save(options.OutputDirectory!, model, optimizer, state, noise.Generator, tokenizerDirectory);
        CheckpointStore.Prune(options.OutputDirectory!, options.SaveTotalLimit, lastCheckpoint);
    }

    private void Report(TrainingProgress report, List<TrainingProgress> history, IProgress<TrainingProgress>? progress)
    {
        history.Add(report);
        metrics?.Write(report);
        progress?.Report(report);
    }

    public void Dispose()
    {
        optimizer.Dispose();
        noise.Dispose();
        bf16?.Dispose();
    }
}
