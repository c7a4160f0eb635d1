using System.CommandLine;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Noise;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Cli.Commands;

/// <summary>The options of <c>neftune train</c> and their mapping onto a <see cref="FineTuningRequest"/>.</summary>
internal sealed class TrainOptions
{
    private static readonly TrainingOptions Defaults = new();

    public Option<string> Model { get; } = new("--model", "-m") { Description = "Model to fine-tune: a Hugging Face directory or a llama2.c .bin file.", Required = true, HelpName = "PATH" };
    public Option<string?> Tokenizer { get; } = new("--tokenizer", "-t") { Description = "Tokenizer file or directory. Default: the model directory's.", HelpName = "PATH" };
    public Option<string[]> Data { get; } = new("--data", "-d") { Description = "Training data: Alpaca/Dolly/ShareGPT/messages JSON or JSONL, or plain text (.txt or JSONL with a text field). Several files of one layout may follow --data.", Required = true, HelpName = "FILE", AllowMultipleArgumentsPerToken = true };
    public Option<string?> Format { get; } = new Option<string?>("--format") { Description = "Record layout. Default: detected from the fields.", HelpName = "alpaca|dolly|sharegpt|messages|text" }.AcceptOnlyFromAmong("alpaca", "dolly", "sharegpt", "messages", "text");
    public Option<string> Template { get; } = new("--template") { Description = "Prompt template: model (the model's own chat template, with the loss on assistant turns; alpaca when it has none), alpaca, llama2-chat, chatml, vicuna, or a template file.", DefaultValueFactory = _ => "model", HelpName = "NAME|FILE" };
    public Option<string?> ValData { get; } = new("--val-data") { Description = "Validation data file (evaluated with noise off).", HelpName = "FILE" };
    public Option<double> ValSplit { get; } = new Option<double>("--val-split") { Description = "Hold out this fraction of the training data for validation (seeded). Default 0.", HelpName = "F" }.InRange(v => v is >= 0 and < 1, "must be in [0, 1)");
    public Option<double> NoiseAlpha { get; } = new Option<double>("--noise-alpha") { Description = "NEFTune alpha (the paper uses 5, 10, 15); 0 = plain fine-tuning.", Required = true, HelpName = "A" }.InRange(v => v >= 0 && double.IsFinite(v), "must be a finite number >= 0");
    public Option<string> NoiseScaling { get; } = new Option<string>("--noise-scaling") { Description = "per-sequence: L = each sequence's real length, no noise on padding (the authors' code); padded-length: L = padded batch length (Hugging Face).", DefaultValueFactory = _ => "per-sequence" }.AcceptOnlyFromAmong("per-sequence", "padded-length");
    public Option<string> Noise { get; } = new Option<string>("--noise") { Description = "Noise distribution: uniform (the paper) or gaussian (std alpha/sqrt(L·d)).", DefaultValueFactory = _ => "uniform" }.AcceptOnlyFromAmong("uniform", "gaussian");
    public Option<int> Epochs { get; } = new Option<int>("--epochs") { Description = "Passes over the data.", DefaultValueFactory = _ => Defaults.Epochs, HelpName = "N" }.Positive();
    public Option<int?> MaxSteps { get; } = new Option<int?>("--max-steps") { Description = "Stop after this many optimizer steps (instead of --epochs).", HelpName = "N" }.Positive();
    public Option<int> BatchSize { get; } = new Option<int>("--batch-size") { Description = "Sequences per micro-batch.", DefaultValueFactory = _ => Defaults.BatchSize, HelpName = "B" }.Positive();
    public Option<int> GradAccum { get; } = new Option<int>("--grad-accum") { Description = "Micro-batches per optimizer step.", DefaultValueFactory = _ => 1, HelpName = "K" }.Positive();
    public Option<double> LearningRate { get; } = new Option<double>("--lr") { Description = "Peak learning rate.", DefaultValueFactory = _ => Defaults.LearningRate, HelpName = "X" }.InRange(v => v > 0 && double.IsFinite(v), "must be a positive number");
    public Option<double> WeightDecay { get; } = new Option<double>("--weight-decay") { Description = "AdamW decoupled weight decay (norms and biases excluded).", DefaultValueFactory = _ => Defaults.WeightDecay, HelpName = "X" }.InRange(v => v >= 0, "must be >= 0");
    public Option<double> WarmupRatio { get; } = new Option<double>("--warmup-ratio") { Description = "Fraction of steps spent warming up.", DefaultValueFactory = _ => Defaults.WarmupRatio, HelpName = "R" }.InRange(v => v is >= 0 and <= 1, "must be in [0, 1]");
    public Option<string> Scheduler { get; } = new Option<string>("--scheduler") { Description = "Learning-rate schedule after warmup.", DefaultValueFactory = _ => "cosine" }.AcceptOnlyFromAmong("cosine", "linear", "constant");
    public Option<double> MaxGradNorm { get; } = new Option<double>("--max-grad-norm") { Description = "Clip the gradient norm to this; 0 = off.", DefaultValueFactory = _ => Defaults.MaxGradNorm, HelpName = "X" }.InRange(v => v >= 0, "must be >= 0");
    public Option<int> MaxLength { get; } = new Option<int>("--max-length") { Description = "Tokens per example; longer responses are cut at the end (counted and reported).", DefaultValueFactory = _ => 512, HelpName = "L" }.Positive();
    public Option<bool> DropLong { get; } = new("--drop-long") { Description = "Drop over-long examples instead of truncating them." };
    public Option<bool> TrainOnPrompt { get; } = new("--train-on-prompt") { Description = "Take the loss on prompt tokens too (default: response tokens only)." };
    public Option<bool> Packing { get; } = new("--packing") { Description = "Pack short examples into rows of --max-length tokens (attention and noise scale stay per example)." };
    public Option<bool> BFloat16 { get; } = new("--bf16") { Description = "Compute in bfloat16 over float32 master weights (on CPUs without fast bfloat16 products, avx512_bf16/amx_bf16, float32 is used and a note says so)." };
    public Option<bool> GradientCheckpointing { get; } = new("--gradient-checkpointing") { Description = "Recompute each decoder layer in backward instead of keeping its activations (less memory, about a third more compute; same gradients)." };
    public Option<int> EvalSteps { get; } = new Option<int>("--eval-steps") { Description = "Evaluate every N steps; 0 = at the end of each epoch.", DefaultValueFactory = _ => 0, HelpName = "N" }.NonNegative();
    public Option<int> SaveSteps { get; } = new Option<int>("--save-steps") { Description = "Write OUT/checkpoint-STEP every N steps; 0 = at the end only.", DefaultValueFactory = _ => 0, HelpName = "N" }.NonNegative();
    public Option<int> SaveTotalLimit { get; } = new Option<int>("--save-total-limit") { Description = "Checkpoints to keep; 0 = all.", DefaultValueFactory = _ => Defaults.SaveTotalLimit, HelpName = "N" }.NonNegative();
    public Option<int> LoggingSteps { get; } = new Option<int>("--logging-steps") { Description = "Log (and write a metrics line) every N steps.", DefaultValueFactory = _ => 1, HelpName = "N" }.Positive();
    public Option<int> Patience { get; } = new Option<int>("--early-stopping-patience") { Description = "Stop after N evaluations without a lower validation loss; 0 = never.", DefaultValueFactory = _ => 0, HelpName = "N" }.NonNegative();
    public Option<long> Seed { get; } = new("--seed", "-s") { Description = "Seed of data order, split and noise.", DefaultValueFactory = _ => Defaults.Seed, HelpName = "S" };
    public Option<string?> Resume { get; } = new("--resume") { Description = "Continue from an output folder (its newest checkpoint) or a checkpoint folder.", HelpName = "DIR" };
    public Option<string> Out { get; } = new("--out", "-o") { Description = "Output folder: checkpoints, metrics.jsonl, best-model/ and the final model (HF layout).", Required = true, HelpName = "DIR" };
    public Option<string?> Metrics { get; } = new("--metrics") { Description = "Metrics file (JSON lines). Default: OUT/metrics.jsonl.", HelpName = "FILE" };
    public Option<string> Device { get; } = new("--device") { Description = "cpu or cuda.", DefaultValueFactory = _ => "cpu" };
    public Option<int> SamplePrompts { get; } = new Option<int>("--sample-prompts") { Description = "Print greedy generations (repetition penalty 1.2) for N validation prompts before and after training.", DefaultValueFactory = _ => 0, HelpName = "N" }.NonNegative();
    public Option<bool> Quiet { get; } = new("--quiet", "-q") { Description = "Print only the final summary (no progress bar or step lines)." };
    public Option<string?> Plot { get; } = new("--plot") { Description = "After training, draw training loss, noise-off training loss and validation loss against steps into this image (.png, .svg or .jpg).", HelpName = "FILE" };

    /// <summary>--lora-rank, --lora-alpha, --lora-dropout, --lora-targets, --quantize-base, --lora-save-merged.</summary>
    public LoraCliOptions Lora { get; } = new();

    public IEnumerable<Option> All => new Option[]
    {
        Model, Tokenizer, Data, Format, Template, ValData, ValSplit, NoiseAlpha, NoiseScaling, Noise, Epochs, MaxSteps, BatchSize, GradAccum,
        LearningRate, WeightDecay, WarmupRatio, Scheduler, MaxGradNorm, MaxLength, DropLong, TrainOnPrompt, Packing, BFloat16, GradientCheckpointing, EvalSteps, SaveSteps,
        SaveTotalLimit, LoggingSteps, Patience, Seed, Resume, Out, Metrics, Device, SamplePrompts, Quiet, Plot,
    };

    public FineTuningRequest Request(ParseResult r)
    {
        var model = CliInputs.RequireModelPath(r.GetValue(Model)!);
        var data = r.GetValue(Data)!;
        foreach (var file in data)
            if (!File.Exists(file)) throw new CliUsageException($"--data: file not found: {file}");
        var valData = r.GetValue(ValData);
        if (valData is not null && !File.Exists(valData)) throw new CliUsageException($"--val-data: file not found: {valData}");
        var resume = r.GetValue(Resume);
        if (resume is not null && !Directory.Exists(resume)) throw new CliUsageException($"--resume: folder not found: {resume}");
        int maxLength = r.GetValue(MaxLength);
        return new FineTuningRequest
        {
            ModelPath = model,
            TokenizerPath = r.GetValue(Tokenizer),
            DataPath = data[0],
            AdditionalDataPaths = data.Skip(1).ToArray(),
            Format = r.GetValue(Format) switch
            {
                null => null, "alpaca" => DataFormat.Alpaca, "dolly" => DataFormat.Dolly, "sharegpt" => DataFormat.ShareGPT, "messages" => DataFormat.Messages, _ => DataFormat.Text,
            },
            ValidationDataPath = valData,
            ResumeFrom = resume,
            Training = new TrainingOptions
            {
                Template = r.GetValue(Template)!,
                ValidationFraction = r.GetValue(ValSplit),
                MaxLength = maxLength,
                Truncation = r.GetValue(DropLong) ? TruncationMode.Drop : TruncationMode.TruncateResponse,
                TrainOnPrompt = r.GetValue(TrainOnPrompt),
                Noise = new NeftuneOptions
                {
                    Alpha = r.GetValue(NoiseAlpha),
                    Scaling = r.GetValue(NoiseScaling) == "padded-length" ? NeftuneScaling.PaddedLength : NeftuneScaling.PerSequence,
                    Distribution = r.GetValue(Noise) == "gaussian" ? NeftuneDistribution.Gaussian : NeftuneDistribution.Uniform,
                },
                Epochs = r.GetValue(Epochs),
                MaxSteps = r.GetValue(MaxSteps),
                BatchSize = r.GetValue(BatchSize),
                GradientAccumulationSteps = r.GetValue(GradAccum),
                LearningRate = r.GetValue(LearningRate),
                WeightDecay = r.GetValue(WeightDecay),
                WarmupRatio = r.GetValue(WarmupRatio),
                Scheduler = r.GetValue(Scheduler) switch { "linear" => LearningRateSchedule.Linear, "constant" => LearningRateSchedule.Constant, _ => LearningRateSchedule.Cosine },
                MaxGradNorm = r.GetValue(MaxGradNorm),
                PackingLength = r.GetValue(Packing) ? maxLength : null,
                BFloat16 = r.GetValue(BFloat16),
                GradientCheckpointing = r.GetValue(GradientCheckpointing),
                EvalSteps = r.GetValue(EvalSteps),
                SaveSteps = r.GetValue(SaveSteps),
                SaveTotalLimit = r.GetValue(SaveTotalLimit),
                LoggingSteps = r.GetValue(LoggingSteps),
                EarlyStoppingPatience = r.GetValue(Patience),
                Seed = r.GetValue(Seed),
                OutputDirectory = r.GetValue(Out)!,
                MetricsPath = r.GetValue(Metrics),
                Device = r.GetValue(Device)!,
                Lora = Lora.Read(r, model),
            },
        };
    }
}
