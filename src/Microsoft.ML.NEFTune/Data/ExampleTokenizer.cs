using System.Text;
using Microsoft.ML.NEFTune.IO.Tokenizers;

namespace Microsoft.ML.NEFTune.Data;

/// <summary>
/// Renders examples with a <see cref="PromptTemplate"/> and encodes them into ids and labels. As in the Alpaca and
/// NEFTune training code, each stretch of text between control tokens is encoded as one string, and the tokens
/// before a target are masked by the length of the encoded text up to the target (ids(prompt + output) with the
/// first len(ids(prompt)) labels ignored), so a tokenizer's handling of word starts matches what the model sees at
/// generation time. BOS is prepended when the tokenizer adds one; every response ends with EOS, which is trained.
/// </summary>
public sealed class ExampleTokenizer
{
    /// <summary>The label of a position the loss ignores (prompt, padding); equals <c>LlamaForCausalLM.IgnoreIndex</c>.</summary>
    public const int LabelIgnoreIndex = -100;

    private readonly int eosId;
    private readonly int? bosId;
    private readonly int? documentBosId;

    /// <param name="tokenizer">Encodes text; must have an end-of-sequence id.</param>
    /// <param name="template">Renders examples.</param>
    /// <param name="options">Length limit, truncation and prompt training; null for the defaults.</param>
    public ExampleTokenizer(TextTokenizer tokenizer, PromptTemplate template, ExampleTokenizerOptions? options = null)
    {
        Tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        Template = template ?? throw new ArgumentNullException(nameof(template));
        Options = options ?? new ExampleTokenizerOptions();
        Options.Validate();
        eosId = tokenizer.EosId ?? throw new ArgumentException("The tokenizer has no end-of-sequence id; every response must end with one.", nameof(tokenizer));
        documentBosId = tokenizer.AddBosToken ? tokenizer.BosId : null;
        bosId = template.RendersSpecialTokens ? null : documentBosId;
    }

    /// <summary>The tokenizer.</summary>
    public TextTokenizer Tokenizer { get; }

    /// <summary>The template.</summary>
    public PromptTemplate Template { get; }

    /// <summary>The settings.</summary>
    public ExampleTokenizerOptions Options { get; }

    /// <summary>
    /// Encodes examples, applying <see cref="ExampleTokenizerOptions.MaxLength"/> and
    /// <see cref="ExampleTokenizerOptions.Truncation"/>; examples without a response are dropped. Every drop and
    /// truncation is counted in the report.
    /// </summary>
    public TokenizationResult Tokenize(IEnumerable<InstructionExample> examples)
    {
        ArgumentNullException.ThrowIfNull(examples);
        var rows = new List<TokenizedExample>();
        var report = new TokenizationReport();
        int index = -1, max = Options.MaxLength;
        foreach (var example in examples)
        {
            index++;
            if (example is null) throw new ArgumentException($"Example {index} is null.", nameof(examples));
            if (!example.HasResponse) { report.Drop(index, DropReason.NoResponse, 0); continue; }
            var (ids, target) = EncodeSegments(Template.Render(example));
            if (ids.Count <= max)
            {
                rows.Add(Labelled(ids, target, ids.Count));
                report.Keep(1, truncated: false, 0);
                continue;
            }
            if (Options.Truncation == TruncationMode.Drop) { report.Drop(index, DropReason.TooLong, ids.Count); continue; }
            int kept = target.Skip(1).Take(max - 1).Count(t => t);
            if (kept == 0) { report.Drop(index, DropReason.PromptTooLong, ids.Count); continue; }
            rows.Add(Labelled(ids, target, max));
            report.Keep(1, truncated: true, target.Skip(max).Count(t => t));
        }
        return new TokenizationResult(rows, report);
    }

    /// <summary>
    /// Encodes documents for continued pre-training: BOS (when the tokenizer adds one), the text, EOS, cut into
    /// chunks of at most <see cref="ExampleTokenizerOptions.MaxLength"/> tokens with every token trained. Chunks never
    /// span two documents (pack them with <see cref="Packer"/>); a final chunk of a single token, which has nothing
    /// to predict it from, is not kept and is counted as a truncation.
    /// </summary>
    public TokenizationResult TokenizeDocuments(IEnumerable<PlainText> documents)
    {
        ArgumentNullException.ThrowIfNull(documents);
        var rows = new List<TokenizedExample>();
        var report = new TokenizationReport();
        int index = -1, max = Options.MaxLength;
        foreach (var document in documents)
        {
            index++;
            if (document is null) throw new ArgumentException($"Document {index} is null.", nameof(documents));
            var text = Tokenizer.Encode(document.Text);
            if (text.Count == 0) { report.Drop(index, DropReason.EmptyDocument, 0); continue; }
            var ids = new List<int>(text.Count + 2);
            if (documentBosId is { } bos) ids.Add(bos);
            ids.AddRange(text);
            ids.Add(eosId);
            int chunks = 0;
            for (int start = 0; start < ids.Count - 1; start += max, chunks++)
            {
                var chunk = ids.GetRange(start, Math.Min(max, ids.Count - start)).ToArray();
                rows.Add(new TokenizedExample(chunk, (int[])chunk.Clone()));
            }
            bool lostLast = ids.Count > 1 && (ids.Count - 1) % max == 0;
            report.Keep(chunks, truncated: lostLast, lostLast ? 1 : 0);
        }
        return new TokenizationResult(rows, report);
    }

    /// <summary>The whole example, untruncated, with labels as the options say.</summary>
    public TokenizedExample Encode(InstructionExample example)
    {
        ArgumentNullException.ThrowIfNull(example);
        var (ids, target) = EncodeSegments(Template.Render(example));
        return Labelled(ids, target, ids.Count);
    }

    /// <summary>The ids of the prompt for generation (BOS included when the tokenizer adds one), ending where the response begins.</summary>
    public int[] EncodePrompt(InstructionExample example)
    {
        ArgumentNullException.ThrowIfNull(example);
        return EncodeSegments(Template.RenderPromptSegments(example)).Ids.ToArray();
    }

    /// <summary>Ids of rendered segments and, per id, whether it belongs to a target.</summary>
    internal (List<int> Ids, List<bool> Target) EncodeSegments(IReadOnlyList<TemplateSegment> segments)
    {
        var ids = new List<int>();
        var target = new List<bool>();
        if (bosId is { } bos) { ids.Add(bos); target.Add(false); }
        var run = new List<TemplateSegment>();
        foreach (var segment in segments)
        {
            if (segment.Special == SpecialToken.None) { run.Add(segment); continue; }
            EncodeRun(run, ids, target);
            run.Clear();
            int? id = segment.Special == SpecialToken.Eos ? eosId : bosId;
            if (id is null) continue;
            ids.Add(id.Value);
            target.Add(segment.IsTarget);
        }
        EncodeRun(run, ids, target);
        return (ids, target);
    }

    private void EncodeRun(List<TemplateSegment> run, List<int> ids, List<bool> target)
    {
        var pieces = new List<(string Text, bool Target)>();
        foreach (var segment in run)
        {
            if (segment.Text.Length == 0) continue;
            if (pieces.Count > 0 && pieces[^1].Target == segment.IsTarget) pieces[^1] = (pieces[^1].Text + segment.Text, segment.IsTarget);
            else pieces.Add((segment.Text, segment.IsTarget));
        }
        if (pieces.Count == 0) return;
        var encoded = Tokenizer.Encode(string.Concat(pieces.Select(p => p.Text)));
        var prefix = new StringBuilder();
        int start = 0;
        for (int k = 0; k < pieces.Count; k++)
        {
            int end = encoded.Count;
            if (k < pieces.Count - 1)
            {
                prefix.Append(pieces[k].Text);
                end = Math.Clamp(Tokenizer.Encode(prefix.ToString()).Count, start, encoded.Count);
            }
            for (int t = start; t < end; t++)
            {
                ids.Add(encoded[t]);
                target.Add(pieces[k].Target);
            }
            start = end;
        }
    }

    private TokenizedExample Labelled(List<int> ids, List<bool> target, int length)
    {
        var inputIds = new int[length];
        var labels = new int[length];
        for (int t = 0; t < length; t++)
        {
            inputIds[t] = ids[t];
            labels[t] = target[t] || Options.TrainOnPrompt ? ids[t] : LabelIgnoreIndex;
        }
        return new TokenizedExample(inputIds, labels);
    }
}
