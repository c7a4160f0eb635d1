using System.CommandLine;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Noise;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Cli.Commands;

/// <summary>
/// The options of <c>neftune train</c> (and <c>compare</c>) and their mapping onto a <see cref="FineTuningRequest"/>.
/// Every setting flag maps onto one <see cref="TrainingOptions"/> property in <see cref="Request"/>; a flag that is not
/// given leaves the property at its default — the library's default, or the preset's with <c>--recipe paper</c> — so
/// the defaults shown in the help are read from <see cref="TrainingOptions"/>, never written here.
/// </summary>
internal sealed class TrainOptions
{
    private static readonly TrainingOptions Defaults = new();
    private static readonly string DefaultScaling = Defaults.Noise.Scaling == NeftuneScaling.PaddedLength ? "padded-length" : "per-sequence";

    public Option<string> Model { get; } = new("--model", "-m") { Description = "Model to fine-tune: a Hugging Face directory or a llama2.c .bin file.", Required = true, HelpName = "PATH" };
    public Option<string?> Tokenizer { get; } = new("--tokenizer", "-t") { Description = "Tokenizer file or directory. Default: the model directory's.", HelpName = "PATH" };
    public Option<string[]> Data { get; } = new("--data", "-d") { Description = "Training data: Alpaca/Dolly/ShareGPT/messages JSON or JSONL, or plain text (.txt or JSONL with a text field). Several files of one layout may follow --data.", Required = true, HelpName = "FILE", AllowMultipleArgumentsPerToken = true };
    public Option<string?> Format { get; } = new Option<string?>("--format") { Description = "Record layout. Default: detected from the fields.", HelpName = "alpaca|dolly|sharegpt|messages|text" }.AcceptOnlyFromAmong("alpaca", "dolly", "sharegpt", "messages", "text");
    public Option<string> Template { get; } = new("--template") { Description = "Prompt template: model (the model's own chat template, with the loss on assistant turns; alpaca when it has none), alpaca, llama2-chat, chatml, vicuna, or a template file.", DefaultValueFactory = _ => Defaults.Template, HelpName = "NAME|FILE" };
    public Option<string?> ValData { get; } = new("--val-data") { Description = "Validation data file (evaluated with noise off).", HelpName = "FILE" };
    public Option<double> ValSplit { get; } = new Option<double>("--val-split") { Description = "Hold out this fraction of the training data for validation (seeded).", DefaultValueFactory = _ => Defaults.ValidationFraction, HelpName = "F" }.InRange(v => v is >= 0 and < 1, "must be in [0, 1)");
    public Option<string?> Recipe { get; } = new Option<string?>("--recipe") { Description = "Start from a preset; flags given as well override it. paper: the NEFTune authors' Alpaca setup (alpaca template, alpha 5, lr 5e-5, 3 epochs, max length 512, an effective batch of 128 through --grad-accum 128/--batch-size).", HelpName = "paper" }.AcceptOnlyFromAmong("paper");
    public Option<double> NoiseAlpha { get; } = new Option<double>("--noise-alpha") { Description = "NEFTune alpha (the paper uses 5, 10, 15); 0 = plain fine-tuning.", DefaultValueFactory = _ => Defaults.Noise.Alpha, HelpName = "A" }.InRange(v => v >= 0 && double.IsFinite(v), "must be a finite number >= 0");
    public Option<string> NoiseScaling { get; } = new Option<string>("--noise-scaling") { Description = "per-sequence: L = each sequence's real length, no noise on padding (the authors' code); padded-length: L = padded batch length (Hugging Face).", DefaultValueFactory = _ => DefaultScaling }.AcceptOnlyFromAmong("per-sequence", "padded-length");
    public Option<string> Noise { get; } = NoiseKindOption.Create(Defaults.Noise.KindName);
    public Option<int> Epochs { get; } = new Option<int>("--epochs") { Description = "Passes over the data.", DefaultValueFactory = _ => Defaults.Epochs, HelpName = "N" }.Positive();
    public Option<int?> MaxSteps { get; } = new Option<int?>("--max-steps") { Description = "Stop after this many optimizer steps (instead of --epochs).", HelpName = "N" }.Positive();
    public Option<int> BatchSize { get; } = new Option<int>("--batch-size") { Description = "Sequences per micro-batch.", DefaultValueFactory = _ => Defaults.BatchSize, HelpName = "B" }.Positive();
    public Option<int> GradAccum { get; } = new Option<int>("--grad-accum") { Description = "Micro-batches per optimizer step.", DefaultValueFactory = _ => Defaults.GradientAccumulationSteps, HelpName = "K" }.Positive();
    public Option<double> LearningRate { get; } = new Option<double>("--lr") { Description = "Peak learning rate.", DefaultValueFactory = _ => Defaults.LearningRate, HelpName = "X" }.InRange(v => v > 0 && double.IsFinite(v), "must be a positive number");
    public Option<double> WeightDecay { get; } = new Option<double>("--weight-decay") { Description = "AdamW decoupled weight decay (norms and biases excluded).", DefaultValueFactory = _ => Defaults.WeightDecay, HelpName = "X" }.InRange(v => v >= 0, "must be >= 0");
    public Option<double> WarmupRatio { get; } = new Option<double>("--warmup-ratio") { Description = "Fraction of steps spent warming up.", DefaultValueFactory = _ => Defaults.WarmupRatio, HelpName = "R" }.InRange(v => v is >= 0 and <= 1, "must be in [0, 1]");
    public Option<string> Scheduler { get; } = new Option<string>("--scheduler") { Description = "Learning-rate schedule after warmup.", DefaultValueFactory = _ => Defaults.Scheduler.ToString().ToLowerInvariant() }.AcceptOnlyFromAmong("cosine", "linear", "constant");
    public Option<double> MaxGradNorm { get; } = new Option<double>("--max-grad-norm") { Description = "Clip the gradient norm to this; 0 = off.", DefaultValueFactory = _ => Defaults.MaxGradNorm, HelpName = "X" }.InRange(v => v >= 0, "must be >= 0");
    public Option<int> MaxLength { get; } = new Option<int>("--max-length") { Description = "Tokens per example; longer responses are cut at the end (counted and reported).", DefaultValueFactory = _ => Defaults.MaxLength, HelpName = "L" }.Positive();
    public Option<bool> DropLong { get; } = new("--drop-long") { Description = "Drop over-long examples instead of truncating them." };
    public Option<bool> TrainOnPrompt { get; } = new("--train-on-prompt") { Description = "Take the loss on prompt tokens too (default: response tokens only)." };
    public Option<bool> GroupByLength { get; } = new("--group-by-length") { Description = "Batch examples of similar length together (less padding, but other batches than the paper's runs)." };
    public Option<bool> Packing { get; } = new("--packing") { Description = "Pack short examples into rows of --max-length tokens (attention and noise scale stay per example)." };
    public Option<bool> BFloat16 { get; } = new("--bf16") { Description = "Compute in bfloat16 over float32 master weights (on CPUs without fast bfloat16 products, avx512_bf16/amx_bf16, float32 is used and a note says so)." };
    public Option<bool> GradientCheckpointing { get; } = new("--gradient-checkpointing") { Description = "Recompute each decoder layer in backward instead of keeping its activations (less memory, about a third more compute; same gradients)." };
    public Option<int> EvalSteps { get; } = new Option<int>("--eval-steps") { Description = "Evaluate every N steps; 0 = at the end of each epoch.", DefaultValueFactory = _ => Defaults.EvalSteps, HelpName = "N" }.NonNegative();
    public Option<int> SaveSteps { get; } = new Option<int>("--save-steps") { Description = "Write OUT/checkpoint-STEP every N steps; 0 = at the end only.", DefaultValueFactory = _ => Defaults.SaveSteps, HelpName = "N" }.NonNegative();
    public Option<int> SaveTotalLimit { get; } = new Option<int>("--save-total-limit") { Description = "Checkpoints to keep; 0 = all.", DefaultValueFactory = _ => Defaults.SaveTotalLimit, HelpName = "N" }.NonNegative();
    public Option<int> LoggingSteps { get; } = new Option<int>("--logging-steps") { Description = "Log (and write a metrics line) every N steps.", DefaultValueFactory = _ => Defaults.LoggingSteps, HelpName = "N" }.Positive();
    public Option<int> Patience { get; } = new Option<int>("--early-stopping-patience") { Description = "Stop after N evaluations without a lower validation loss; 0 = never.", DefaultValueFactory = _ => Defaults.EarlyStoppingPatience, HelpName = "N" }.NonNegative();
    public Option<long> Seed { get; } = new("--seed", "-s") { Description = "Seed of data order, split and noise.", DefaultValueFactory = _ => Defaults.Seed, HelpName = "S" };
    public Option<string?> Resume { get; } = new("--resume") { Description = "Continue from an output folder (its newest checkpoint) or a checkpoint folder.", HelpName = "DIR" };
    public Option<string> Out { get; } = new("--out", "-o") { Description = "Output folder: checkpoints, metrics.jsonl, best-model/ and the final model (HF layout).", Required = true, HelpName = "DIR" };
    public Option<string?> Metrics { get; } = new("--metrics") { Description = "Metrics file (JSON lines). Default: OUT/metrics.jsonl.", HelpName = "FILE" };
    public Option<string> Device { get; } = new("--device") { Description = "cpu or cuda.", DefaultValueFactory = _ => Defaults.Device };
    public Option<int> SamplePrompts { get; } = new Option<int>("--sample-prompts") { Description = "Print generations (greedy, repetition penalty 1.2 by default) for N validation prompts before and after training.", DefaultValueFactory = _ => 0, HelpName = "N" }.NonNegative();
    public Option<bool> PrintSettings { get; } = new("--print-settings") { Description = "Print the effective settings (defaults, preset and flags resolved) as JSON and exit without training." };
    public Option<bool> Quiet { get; } = new("--quiet", "-q") { Description = "Print only the final summary (no progress bar or step lines)." };
    public Option<string?> Plot { get; } = new("--plot") { Description = "After training, draw training loss, noise-off training loss and validation loss against steps into this image (.png, .svg or .jpg).", HelpName = "FILE" };

    /// <summary>--lora-rank, --lora-alpha, --lora-dropout, --lora-targets, --quantize-base, --lora-save-merged.</summary>
    public LoraCliOptions Lora { get; } = new();

    public IEnumerable<Option> All => new Option[]
    {
        Model, Tokenizer, Data, Format, Recipe, Template, ValData, ValSplit, NoiseAlpha, NoiseScaling, Noise, Epochs, MaxSteps, BatchSize, GradAccum,
        LearningRate, WeightDecay, WarmupRatio, Scheduler, MaxGradNorm, MaxLength, DropLong, TrainOnPrompt, GroupByLength, Packing, BFloat16, GradientCheckpointing, EvalSteps, SaveSteps,
        SaveTotalLimit, LoggingSteps, Patience, Seed, Resume, Out, Metrics, Device, SamplePrompts, PrintSettings, Quiet, Plot,
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
        var b = Baseline(r);
        T Given<T>(Option<T> option, T baseline) => r.GetResult(option) is { Implicit: false } ? r.GetValue(option)! : baseline;
        int maxLength = Given(MaxLength, b.MaxLength);
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
            // The one table from flags to settings: a flag not given keeps the baseline's value.
            Training = b with
            {
                Template = Given(Template, b.Template)!,
                ValidationFraction = Given(ValSplit, b.ValidationFraction),
                MaxLength = maxLength,
                Truncation = r.GetValue(DropLong) ? TruncationMode.Drop : b.Truncation,
                TrainOnPrompt = r.GetValue(TrainOnPrompt) || b.TrainOnPrompt,
                Noise = (r.GetResult(Noise) is { Implicit: false } ? b.Noise.WithKind(r.GetValue(Noise)!) : b.Noise) with
                {
                    Alpha = Given(NoiseAlpha, b.Noise.Alpha),
                    Scaling = r.GetResult(NoiseScaling) is { Implicit: false } ? (r.GetValue(NoiseScaling) == "padded-length" ? NeftuneScaling.PaddedLength : NeftuneScaling.PerSequence) : b.Noise.Scaling,
                },
                Epochs = Given(Epochs, b.Epochs),
                MaxSteps = r.GetValue(MaxSteps) ?? b.MaxSteps,
                BatchSize = Given(BatchSize, b.BatchSize),
                GradientAccumulationSteps = Given(GradAccum, b.GradientAccumulationSteps),
                LearningRate = Given(LearningRate, b.LearningRate),
                WeightDecay = Given(WeightDecay, b.WeightDecay),
                WarmupRatio = Given(WarmupRatio, b.WarmupRatio),
                Scheduler = r.GetResult(Scheduler) is { Implicit: false } ? Enum.Parse<LearningRateSchedule>(r.GetValue(Scheduler)!, ignoreCase: true) : b.Scheduler,
                MaxGradNorm = Given(MaxGradNorm, b.MaxGradNorm),
                GroupByLength = r.GetValue(GroupByLength) || b.GroupByLength,
                PackingLength = r.GetValue(Packing) ? maxLength : b.PackingLength,
                BFloat16 = r.GetValue(BFloat16) || b.BFloat16,
                GradientCheckpointing = r.GetValue(GradientCheckpointing) || b.GradientCheckpointing,
                EvalSteps = Given(EvalSteps, b.EvalSteps),
                SaveSteps = Given(SaveSteps, b.SaveSteps),
                SaveTotalLimit = Given(SaveTotalLimit, b.SaveTotalLimit),
                LoggingSteps = Given(LoggingSteps, b.LoggingSteps),
                EarlyStoppingPatience = Given(Patience, b.EarlyStoppingPatience),
                Seed = Given(Seed, b.Seed),
                OutputDirectory = r.GetValue(Out)!,
                MetricsPath = r.GetValue(Metrics),
                Device = Given(Device, b.Device)!,
                Lora = Lora.Read(r, model) ?? b.Lora,
            },
        };
    }

    /// <summary>The settings a flag that is not given keeps: <c>--recipe paper</c>'s, sized to <c>--batch-size</c>, else the defaults.</summary>
    private TrainingOptions Baseline(ParseResult r)
    {
        if (r.GetValue(Recipe) is not "paper") return Defaults;
        int batch = r.GetResult(BatchSize) is { Implicit: false } ? r.GetValue(BatchSize) : Defaults.BatchSize;
        if (TrainingOptions.PaperEffectiveBatchSize % batch != 0 && r.GetResult(GradAccum) is not { Implicit: false })
            throw new CliUsageException($"--recipe paper: --batch-size {batch} does not divide the paper's effective batch of {TrainingOptions.PaperEffectiveBatchSize}; give a divisor or --grad-accum K");
        return TrainingOptions.PaperRecipe(TrainingOptions.PaperEffectiveBatchSize % batch == 0 ? batch : Defaults.BatchSize) with { BatchSize = batch };
    }
}
