using System.Runtime.CompilerServices;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Tests;

/// <summary>
/// The test process tunes itself as the <c>neftune</c> executable does (the library never does it implicitly), once,
/// when the test assembly loads: before any test thread runs and before libtorch is loaded.
/// </summary>
internal static class ProcessSetup
{
    [ModuleInitializer]
    internal static void Apply() => ProcessTuning.Apply();
}
