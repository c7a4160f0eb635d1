using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Training;

/// <summary>Noise-off evaluation of a model on tokenized examples.</summary>
public static class Evaluation
{
    /// <summary>Per-token loss (mean over labelled tokens) of the examples, in evaluation mode without gradients.</summary>
    public static double MeanLoss(LlamaForCausalLM model, IReadOnlyList<TokenizedExample> examples, int batchSize = 8, int padId = 0) =>
        MeanLoss(model, new TrainingBatches(examples, batchSize, 0, false, padId, shuffle: false));

    public static double MeanLoss(LlamaForCausalLM model, TrainingBatches data)
    {
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = no_grad();
            double sum = 0; long tokens = 0;
            for (int i = 0; i < data.BatchCount; i++)
            {
                using var scope = NewDisposeScope();
                var (ids, labels, seq) = data.Batch(0, i).ToTensors(model.Model.EmbeddingWeight.device);
                var (loss, count) = model.LossSum(ids, labels, seq);
                sum += loss.ToDouble(); tokens += count;
            }
            return sum / Math.Max(1, tokens);
        }
        finally { model.train(wasTraining); }
    }
}
