namespace Microsoft.ML.NEFTune.Data;

/// <summary>Tokenized rows and the report of how they were made.</summary>
/// <param name="Examples">The rows, in input order.</param>
/// <param name="Report">Counts of kept, truncated and dropped inputs.</param>
public sealed record TokenizationResult(IReadOnlyList<TokenizedExample> Examples, TokenizationReport Report);
