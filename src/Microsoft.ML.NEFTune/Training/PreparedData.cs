using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.IO.Tokenizers;

namespace Microsoft.ML.NEFTune.Training;

/// <summary>
/// Records made ready for <see cref="FineTuning.Train"/> by <see cref="FineTuning.Prepare"/>: rendered with the template,
/// tokenized with response-only labels, truncated or dropped as reported, split, and paired with the padding id and
/// the tokenizer folder that saved models copy.
/// </summary>
/// <param name="Train">Tokenized training rows, in record order.</param>
/// <param name="Validation">Tokenized validation rows; empty when there is no validation data.</param>
/// <param name="TrainReport">Kept, truncated and dropped training records.</param>
/// <param name="ValidationReport">The same for validation; null when there is no validation data.</param>
/// <param name="TrainExamples">The training records (empty for plain text).</param>
/// <param name="ValidationExamples">The validation records, e.g. to generate answers for (empty for plain text).</param>
/// <param name="Template">The prompt template the rows were rendered with.</param>
/// <param name="Tokenizer">The tokenizer the rows were encoded with.</param>
/// <param name="PadId">Id batches are padded with (<see cref="TextTokenizer.PaddingId"/>).</param>
public sealed record PreparedData(
    IReadOnlyList<TokenizedExample> Train, IReadOnlyList<TokenizedExample> Validation,
    TokenizationReport TrainReport, TokenizationReport? ValidationReport,
    IReadOnlyList<InstructionExample> TrainExamples, IReadOnlyList<InstructionExample> ValidationExamples,
    PromptTemplate Template, TextTokenizer Tokenizer, int PadId)
{
    /// <summary>The folder holding the tokenizer's files, copied into saved models; null for a tokenizer not read from a file.</summary>
    public string? TokenizerDirectory => string.IsNullOrEmpty(Tokenizer.SourcePath) ? null : FineTuning.TokenizerDirectory(Tokenizer);
}
