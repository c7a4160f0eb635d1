using Microsoft.ML.Transforms;

namespace Microsoft.ML.NEFTune;

/// <summary>Input of the placeholder that stands for a NEFTune step inside the ML.NET part of a saved model.</summary>
internal sealed class NeftunePlaceholderInput
{
}

/// <summary>Output of the placeholder that stands for a NEFTune step inside the ML.NET part of a saved model.</summary>
internal sealed class NeftunePlaceholderOutput
{
    public string Generated { get; set; } = "";
}

/// <summary>
/// Resolves the placeholder's contract when ML.NET loads the model part of a file written by
/// <see cref="NeftuneModel.Save"/>. <see cref="NeftuneModel.Load"/> replaces each placeholder by the real transformer;
/// a model loaded with <c>MLContext.Model.Load</c> keeps the placeholder, which explains what to do when it is used.
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class NeftunePlaceholderFactory : CustomMappingFactory<NeftunePlaceholderInput, NeftunePlaceholderOutput>
{
    public const string ContractName = "Microsoft.ML.NEFTune.InstructionTuning.v1";

    public static readonly string LoadMessage =
        $"This pipeline step is a NEFTune instruction-tuned language model whose weights are stored beside the ML.NET model. " +
        $"Load the file with {nameof(NeftuneModel)}.{nameof(NeftuneModel.Load)}(mlContext, path, out var inputSchema) instead of MLContext.Model.Load.";

    public override Action<NeftunePlaceholderInput, NeftunePlaceholderOutput> GetMapping() =>
        (_, _) => throw new InvalidOperationException(LoadMessage);
}
