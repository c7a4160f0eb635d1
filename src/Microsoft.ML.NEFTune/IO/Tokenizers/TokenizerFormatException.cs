namespace Microsoft.ML.NEFTune.IO.Tokenizers;

/// <summary>
/// Thrown when a tokenizer file (a SentencePiece <c>tokenizer.model</c>, a Hugging Face
/// <c>tokenizer.json</c> or a <c>tokenizer_config.json</c>) cannot be used. The message names the file
/// and the problem.
/// </summary>
public sealed class TokenizerFormatException : Exception
{
    /// <summary>Creates the exception for <paramref name="filePath"/> with a description of the problem.</summary>
    public TokenizerFormatException(string filePath, string problem)
        : this(filePath, problem, innerException: null)
    {
    }

    /// <summary>Creates the exception for <paramref name="filePath"/> with a description of the problem and its cause.</summary>
    public TokenizerFormatException(string filePath, string problem, Exception? innerException)
        : base($"Invalid tokenizer file '{filePath}': {problem}", innerException)
    {
        File = filePath;
        Problem = problem;
    }

    /// <summary>The file that could not be used.</summary>
    public string File { get; }

    /// <summary>What is wrong with the file.</summary>
    public string Problem { get; }
}
