using Microsoft.ML.NEFTune.Generation;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.IO.Tokenizers;
using Microsoft.ML.NEFTune.Modeling;
using Microsoft.ML.NEFTune.Noise;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Examples;

/// <summary>
/// The README's main job in code: make a small Llama for the Llama 2 tokenizer, fine-tune it with NEFTune on
/// Alpaca-format data, and print losses and greedy answers before and after.
/// </summary>
public static class QuickStartJob
{
    public sealed record Settings(string TokenizerPath, string DataPath, string OutputDirectory,
        int HiddenSize = 128, int Layers = 4, int Heads = 4, int Epochs = 1, int? MaxSteps = null, int MaxLength = 256, int MaxNewTokens = 48);

    public static TrainingResult Run(Settings s, TextWriter output)
    {
        // 1. A randomly initialised model sized for the tokenizer, saved in the Hugging Face layout.
        var tokenizer = TextTokenizer.Load(s.TokenizerPath);
        var config = new LlamaConfig
        {
            VocabSize = tokenizer.VocabularySize, HiddenSize = s.HiddenSize, IntermediateSize = (int)Math.Ceiling(8.0 * s.HiddenSize / 3 / 32) * 32,
            NumHiddenLayers = s.Layers, NumAttentionHeads = s.Heads, NumKeyValueHeads = s.Heads, HeadDim = s.HiddenSize / s.Heads,
            MaxPositionEmbeddings = 512, RmsNormEps = 1e-5, TieWordEmbeddings = true,
            BosTokenId = tokenizer.BosId, EosTokenIds = tokenizer.EosId is int eos ? new[] { eos } : Array.Empty<int>(),
        };
        var baseDirectory = Path.Combine(s.OutputDirectory, "base");
        using (var model = new LlamaForCausalLM(config))
        {
            model.InitializeWeights(seed: 1);
            HuggingFaceCheckpoint.Save(model, baseDirectory, FineTuning.TokenizerDirectory(tokenizer));
        }

        // 2. NEFTune fine-tuning (alpha 5) with the authors' Alpaca template and response-only loss.
        var result = FineTuning.Run(new FineTuningRequest
        {
            ModelPath = baseDirectory,
            DataPath = s.DataPath,
            Training = new TrainingOptions
            {
                Template = "alpaca", ValidationFraction = 0.1, MaxLength = s.MaxLength,
                Noise = new NeftuneOptions { Alpha = 5 },
                Epochs = s.Epochs, MaxSteps = s.MaxSteps, BatchSize = 8, LearningRate = 1e-3, LoggingSteps = 10,
                OutputDirectory = Path.Combine(s.OutputDirectory, "tuned"),
            },
        },
        progress: new Progress(output),
        before: run => Answers("before", run, output, s.MaxNewTokens));

        // 3. The tuned model generates without noise.
        using (result.Model) Answers("after", result, output, s.MaxNewTokens);
        output.WriteLine($"validation loss {result.Training.FinalValidationLoss:F4}, noise-off training loss {result.Training.FinalTrainLossNoiseOff:F4}");
        return result.Training;
    }

    private static void Answers(string when, FineTuningResult run, TextWriter output, int maxNewTokens)
    {
        var examples = run.ValidationExamples.Take(2).ToList();
        var answers = new TextGenerator(run.Model, run.Tokenizer).Generate(
            examples.Select(e => run.Template.RenderPrompt(e.WithoutFinalResponse())).ToList(),
            new GenerationOptions { MaxNewTokens = maxNewTokens, RepetitionPenalty = 1.2 });
        for (int i = 0; i < examples.Count; i++)
            output.WriteLine($"[{when}] {examples[i].Instruction}\n    -> {answers[i].ReplaceLineEndings(" ")}");
    }

    private sealed class Progress(TextWriter output) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress p) => output.WriteLine(p.IsEvaluation
            ? $"step {p.Step}/{p.TotalSteps}: validation loss {p.ValidationLoss:F4}, noise-off training loss {p.TrainLossNoiseOff:F4}"
            : $"step {p.Step}/{p.TotalSteps}: training loss {p.TrainLoss:F4}, {p.TokensPerSecond:F0} tokens/s");
    }
}
