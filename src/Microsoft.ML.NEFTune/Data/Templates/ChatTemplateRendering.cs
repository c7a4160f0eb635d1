namespace Microsoft.ML.NEFTune.Data.Templates;

/// <summary>A rendered conversation and the character ranges its template wrote inside <c>{% generation %}</c> blocks.</summary>
/// <param name="Text">The rendered text.</param>
/// <param name="GenerationRanges">Ranges of <paramref name="Text"/> marked as assistant generations, in order; empty without markers.</param>
public sealed record ChatTemplateRendering(string Text, IReadOnlyList<Range> GenerationRanges);
