namespace Microsoft.ML.NEFTune.Tests.Data;

/// <summary>
/// The data tests read and tokenize whole data sets; they run on their own, after the parallel tests, so that
/// process-wide measurements (working set) in other tests are not disturbed by their allocations.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DataTestCollection
{
    public const string Name = "Data";
}
