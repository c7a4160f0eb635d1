using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.IO.Tokenizers;
using Microsoft.ML.NEFTune.Modeling;

namespace Microsoft.ML.NEFTune.Training;

/// <summary>The tuned model (noise off, evaluation mode), its tokenizer, and what happened to the data and the run.</summary>
public sealed record FineTuningResult(LlamaForCausalLM Model, TextTokenizer Tokenizer, PromptTemplate Template,
    TokenizationReport TrainReport, TokenizationReport? ValidationReport, TrainingResult Training,
    IReadOnlyList<InstructionExample> TrainExamples, IReadOnlyList<InstructionExample> ValidationExamples);
