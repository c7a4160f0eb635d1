using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Data.Templates;
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

    /// <summary>
    /// Checks a template setting before any tokenizer is loaded: <c>model</c>, a built-in name or a template file;
    /// throws naming the setting otherwise.
    /// </summary>
    public static void Check(string? nameOrPath)
    {
        if (IsModel(nameOrPath)) return;
        Resolve(nameOrPath, tokenizer: null);
    }

    /// <summary>
    /// The template a setting names: <c>model</c> for the chat template of the model whose tokenizer is given (Alpaca when
    /// it has none), a built-in template by name, or a custom template file; throws naming the setting when none.
    /// </summary>
    public static PromptTemplate Resolve(string? nameOrPath, TextTokenizer? tokenizer)
    {
        if (string.IsNullOrWhiteSpace(nameOrPath))
            throw new ArgumentException($"{Setting} must name a template ({ModelPromptTemplate.TemplateName}, {string.Join(", ", PromptTemplate.BuiltInNames)}) or a template file.",
                nameof(NeftuneInstructionTuningOptions.PromptTemplate));
        try
        {
            return IsModel(nameOrPath) ? PromptTemplate.Resolve(nameOrPath, tokenizer) : PromptTemplate.Resolve(nameOrPath);
        }
        catch (Exception e) when (e is ArgumentException or ChatTemplateException or TokenizerFormatException)
        {
            throw new ArgumentException($"{Setting}: {e.Message}", nameof(NeftuneInstructionTuningOptions.PromptTemplate), e);
        }
    }

    private static string Setting => $"{nameof(NeftuneInstructionTuningOptions)}.{nameof(NeftuneInstructionTuningOptions.PromptTemplate)}";

    private static bool IsModel(string? nameOrPath) =>
        string.Equals(nameOrPath?.Trim(), ModelPromptTemplate.TemplateName, StringComparison.OrdinalIgnoreCase);

    public static InstructionExample Example(string instruction, string? input, string? response = null) =>
        InstructionExample.FromInstruction(instruction, input, response);

    /// <summary>The prompt text of an instruction and optional input, ending where the response begins.</summary>
    public string RenderPrompt(string instruction, string? input) => Template.RenderPrompt(Example(instruction, input));

    /// <summary>The ids of that prompt (BOS included when the tokenizer adds one; none added to a model's chat template, which writes its own).</summary>
    public long[] EncodePrompt(string instruction, string? input) =>
        examples.EncodePrompt(Example(instruction, input)).Select(i => (long)i).ToArray();

    /// <summary>Response-only labelled examples, truncated or dropped as the options say.</summary>
    public TokenizationResult Tokenize(IEnumerable<InstructionExample> rows) => examples.Tokenize(rows);
}
