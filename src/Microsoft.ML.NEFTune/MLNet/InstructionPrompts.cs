using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.IO.Tokenizers;

namespace Microsoft.ML.NEFTune;

/// <summary>A prompt template with a tokenizer: encodes training examples and the prompts generation answers.</summary>
internal sealed class InstructionPrompts
{
    private readonly ExampleTokenizer examples;

    public InstructionPrompts(PromptTemplate template, TextTokenizer tokenizer, ExampleTokenizerOptions? options = null)
    {
        Template = template;
        examples = new ExampleTokenizer(tokenizer, template, options);
    }

    public PromptTemplate Template { get; }

    /// <summary>A built-in template by name or a custom template file; throws naming the setting when neither.</summary>
    public static PromptTemplate Resolve(string? nameOrPath)
    {
        if (string.IsNullOrWhiteSpace(nameOrPath))
            throw new ArgumentException($"{nameof(NeftuneInstructionTuningOptions)}.{nameof(NeftuneInstructionTuningOptions.PromptTemplate)} must name a template ({string.Join(", ", PromptTemplate.BuiltInNames)}) or a template file.",
                nameof(NeftuneInstructionTuningOptions.PromptTemplate));
        if (string.Equals(nameOrPath, "model", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"{nameof(NeftuneInstructionTuningOptions)}.{nameof(NeftuneInstructionTuningOptions.PromptTemplate)}: the ML.NET transformer does not render a model's own chat template; name a template ({string.Join(", ", PromptTemplate.BuiltInNames)}) or a template file.",
                nameof(NeftuneInstructionTuningOptions.PromptTemplate));
        try
        {
            return PromptTemplate.Resolve(nameOrPath);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{nameof(NeftuneInstructionTuningOptions)}.{nameof(NeftuneInstructionTuningOptions.PromptTemplate)}: {e.Message}",
                nameof(NeftuneInstructionTuningOptions.PromptTemplate), e);
        }
    }

    public static InstructionExample Example(string instruction, string? input, string? response = null) =>
        InstructionExample.FromInstruction(instruction, input, response);

    /// <summary>The prompt text of an instruction and optional input, ending where the response begins.</summary>
    public string RenderPrompt(string instruction, string? input) => Template.RenderPrompt(Example(instruction, input));

    /// <summary>The ids of that prompt (BOS included when the tokenizer adds one).</summary>
    public long[] EncodePrompt(string instruction, string? input) =>
        examples.EncodePrompt(Example(instruction, input)).Select(i => (long)i).ToArray();

    /// <summary>Response-only labelled examples, truncated or dropped as the options say.</summary>
    public TokenizationResult Tokenize(IEnumerable<InstructionExample> rows) => examples.Tokenize(rows);
}
