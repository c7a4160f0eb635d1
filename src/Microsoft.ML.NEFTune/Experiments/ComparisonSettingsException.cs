namespace Microsoft.ML.NEFTune.Experiments;

/// <summary>A comparison folder holds runs made with other settings than the ones given.</summary>
public sealed class ComparisonSettingsException : Exception
{
    public ComparisonSettingsException(string message) : base(message) { }
}
