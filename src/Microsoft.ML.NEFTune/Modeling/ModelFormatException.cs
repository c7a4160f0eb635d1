namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>A model file (config, safetensors, llama2.c checkpoint) is malformed, hostile or does not fit the model.</summary>
public sealed class ModelFormatException : Exception
{
    public ModelFormatException(string file, string problem) : base($"{file}: {problem}") { File = file; Problem = problem; }
    /// <summary>The file at fault.</summary>
    public string File { get; }
    /// <summary>What is wrong, naming the field.</summary>
    public string Problem { get; }
}
