using System.Buffers;
using Microsoft.ML.Tokenizers;

namespace Microsoft.ML.NEFTune.IO.Tokenizers;

/// <summary>
/// Product-level tokenizer abstraction used by the trainer, generation and the command line. It is a
/// <see cref="Microsoft.ML.Tokenizers.Tokenizer"/>, so it can be passed to ML.NET and other code that takes one
/// (<c>EncodeToIds</c>, <c>EncodeToTokens</c> with offsets, <c>CountTokens</c>, <c>Decode</c>).
/// </summary>
/// <remarks>
/// <see cref="Encode"/> never adds BOS/EOS, and neither do the <see cref="Microsoft.ML.Tokenizers.Tokenizer"/> methods;
/// callers add <see cref="BosId"/>/<see cref="EosId"/> themselves, guided by <see cref="AddBosToken"/> and
/// <see cref="AddEosToken"/>. Normalization and pre-tokenization are part of <see cref="Encode"/> and cannot be switched
/// off; the <c>EncodeSettings</c> flags for them are ignored. A token's offset is its span in the text
/// <see cref="Decode(IEnumerable{int})"/> gives back, which is the input text itself whenever the text round-trips (as
/// ordinary text does); the token's value is that span's text (empty for a byte token that only starts a character:
/// the character is given to the token that completes it).
/// </remarks>
public abstract class TextTokenizer : Microsoft.ML.Tokenizers.Tokenizer
{
    /// <summary>The SentencePiece model file name looked for in a tokenizer directory.</summary>
    public const string SentencePieceFileName = "tokenizer.model";

    /// <summary>The Hugging Face tokenizer file name looked for in a tokenizer directory.</summary>
    public const string HuggingFaceFileName = "tokenizer.json";

    /// <summary>Initializes a tokenizer that was not loaded from a file (<see cref="SourcePath"/> is empty).</summary>
    protected TextTokenizer()
        : this(string.Empty)
    {
    }

    /// <summary>Initializes the tokenizer with the file it was loaded from.</summary>
    protected TextTokenizer(string sourcePath)
    {
        SourcePath = sourcePath ?? throw new ArgumentNullException(nameof(sourcePath));
    }

    /// <summary>Number of token ids (the largest id plus one).</summary>
    public abstract int VocabularySize { get; }

    /// <summary>
    /// The one rule for pairing a tokenizer with a model: every id the tokenizer can produce must have an embedding row.
    /// Returns what is wrong (naming both sizes), or null when the tokenizer fits a model of <paramref name="modelVocabSize"/> tokens.
    /// </summary>
    public string? VocabularyMismatch(int modelVocabSize) => VocabularySize > modelVocabSize
        ? $"the tokenizer has {VocabularySize} tokens but the model's vocab_size is {modelVocabSize}; they do not belong together"
        : null;

    /// <summary>The padding id batches are filled with: the tokenizer's pad token, else the model's <c>pad_token_id</c>, else EOS, else 0.</summary>
    /// <param name="modelPadTokenId">The model configuration's <c>pad_token_id</c>, if any.</param>
    public int PaddingId(int? modelPadTokenId) => PadId ?? modelPadTokenId ?? EosId ?? 0;

    /// <summary>The beginning-of-sequence token id, when the tokenizer has one.</summary>
    public abstract int? BosId { get; }

    /// <summary>The end-of-sequence token id, when the tokenizer has one.</summary>
    public abstract int? EosId { get; }

    /// <summary>The padding token id, when the tokenizer has one.</summary>
    public virtual int? PadId => null;

    /// <summary>Whether sequences fed to the model start with <see cref="BosId"/> (from <c>tokenizer_config.json</c> when present).</summary>
    public bool AddBosToken { get; protected set; } = true;

    /// <summary>Whether sequences fed to the model end with <see cref="EosId"/> (from <c>tokenizer_config.json</c> when present).</summary>
    public bool AddEosToken { get; protected set; }

    /// <summary>The <c>chat_template</c> of <c>tokenizer_config.json</c>, kept verbatim.</summary>
    public string? ChatTemplate { get; protected set; }

    /// <summary>The tokenizer file this instance was loaded from, so that a saved model can copy it.</summary>
    public string SourcePath { get; }

    /// <summary>The <c>tokenizer_config.json</c> that was read beside <see cref="SourcePath"/>, or null when there was none.</summary>
    public string? ConfigPath { get; protected set; }

    /// <summary>The folder of the tokenizer's files (that of <see cref="ConfigPath"/>, else of <see cref="SourcePath"/>), or null for a tokenizer not loaded from a file.</summary>
    internal string? FolderPath => ConfigPath is { } config ? Path.GetDirectoryName(Path.GetFullPath(config))
        : SourcePath.Length > 0 ? Path.GetDirectoryName(Path.GetFullPath(SourcePath)) : null;

    /// <summary>Encodes text to token ids. No BOS/EOS is added.</summary>
    public abstract IReadOnlyList<int> Encode(string text);

    /// <summary>
    /// Encodes text as Hugging Face's <c>tokenizer(text, add_special_tokens=True)</c> does: the ids of <see cref="Encode"/>
    /// with the special tokens the tokenizer puts around a sequence (or a pair of sequences).
    /// </summary>
    /// <remarks>
    /// A <c>tokenizer.json</c> decides this with its <c>post_processor</c> (Llama 3.1 adds <c>&lt;|begin_of_text|&gt;</c>
    /// there); for the <c>tokenizer_class</c> values whose transformers tokenizer rebuilds it from
    /// <c>add_bos_token</c>/<c>add_eos_token</c> (Llama, Code Llama, Gemma) those flags decide, as they do for a
    /// <c>tokenizer.model</c>: <c>[BOS] A [EOS]</c>, and <c>[BOS] A [EOS] [BOS] B [EOS]</c> for a pair.
    /// <see cref="AddBosToken"/> and <see cref="AddEosToken"/> say whether the single-sequence form starts with
    /// <see cref="BosId"/> and ends with <see cref="EosId"/>. Chat templates write their own special tokens and are
    /// encoded with <see cref="Encode"/>, as <c>apply_chat_template(tokenize=True)</c> does.
    /// </remarks>
    /// <param name="text">The first sequence.</param>
    /// <param name="pair">The second sequence of a pair, or null.</param>
    public IReadOnlyList<int> EncodeWithSpecialTokens(string text, string? pair = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var processor = PostProcessor ?? HuggingFacePostProcessor.FromBosEos(BosId, EosId, AddBosToken && BosId is not null, AddEosToken && EosId is not null, SourcePath);
        return processor.Apply(Encode(text), pair is null ? null : Encode(pair));
    }

    /// <summary>The special tokens added around sequences, when a <c>tokenizer.json</c> decides them; null for the BOS/EOS flags.</summary>
    private protected HuggingFacePostProcessor? PostProcessor { get; private set; }

    /// <summary>
    /// Sets <see cref="PostProcessor"/> from a <c>tokenizer.json</c>'s <c>post_processor</c>, or from the
    /// <c>add_bos_token</c>/<c>add_eos_token</c> flags when the <c>tokenizer_class</c> is one whose transformers tokenizer
    /// rebuilds it from them, and derives <see cref="AddBosToken"/>/<see cref="AddEosToken"/> from it.
    /// </summary>
    private protected void UsePostProcessor(System.Text.Json.JsonElement? spec, TokenizerConfig? config, string path)
    {
        // As transformers: a flag whose token the tokenizer lacks is switched off.
        PostProcessor = config?.RebuildsPostProcessor == true
            ? HuggingFacePostProcessor.FromBosEos(BosId, EosId, (config.AddBosToken ?? config.IsLlamaOrGemmaClass) && BosId is not null, (config.AddEosToken ?? false) && EosId is not null, path)
            : HuggingFacePostProcessor.Parse(spec, path);
        var prefix = PostProcessor.SinglePrefix;
        var suffix = PostProcessor.SingleSuffix;
        AddBosToken = BosId is int bos && prefix.Count > 0 && prefix[^1] == bos;
        AddEosToken = EosId is int eos && suffix.Count > 0 && suffix[0] == eos;
    }

    /// <summary>Decodes token ids to text; special tokens (BOS, EOS, PAD and other control tokens) produce no text.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside <c>[0, VocabularySize)</c>.</exception>
    public abstract override string Decode(IEnumerable<int> ids);

    /// <summary>Encodes text to ids (no BOS/EOS), at most <c>settings.MaxTokenCount</c> of them.</summary>
    protected override EncodeResults<int> EncodeToIds(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings)
    {
        var ids = Encode(text ?? textSpan.ToString());
        int max = Math.Max(0, settings.MaxTokenCount);
        if (ids.Count <= max)
            return new EncodeResults<int> { Tokens = ids, NormalizedText = null, CharsConsumed = text?.Length ?? textSpan.Length };
        var tokens = EncodeToTokens(text, textSpan, settings).Tokens;
        return new EncodeResults<int> { Tokens = tokens.Select(t => t.Id).ToArray(), NormalizedText = null, CharsConsumed = tokens.Count == 0 ? 0 : tokens[^1].Offset.End.Value };
    }

    /// <summary>Encodes text to tokens with their offsets (no BOS/EOS), at most <c>settings.MaxTokenCount</c> of them.</summary>
    protected override EncodeResults<EncodedToken> EncodeToTokens(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings)
    {
        var input = text ?? textSpan.ToString();
        var ids = Encode(input);
        int count = Math.Min(ids.Count, Math.Max(0, settings.MaxTokenCount));
        var decoded = Decode(ids);
        var tokens = new EncodedToken[count];
        int start = 0;
        for (int k = 0; k < count; k++)
        {
            int end = Math.Max(start, SettledLength(ids, k + 1));
            tokens[k] = new EncodedToken(ids[k], decoded.Substring(start, Math.Min(end, decoded.Length) - start), new Range(start, end));
            start = end;
        }
        return new EncodeResults<EncodedToken> { Tokens = tokens, NormalizedText = null, CharsConsumed = count == ids.Count ? input.Length : start };
    }

    /// <summary>The number of ids <see cref="Encode"/> gives for the text (no BOS/EOS), capped at <c>settings.MaxTokenCount</c>.</summary>
    protected override int CountTokens(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings) =>
        Math.Min(Encode(text ?? textSpan.ToString()).Count, Math.Max(0, settings.MaxTokenCount));

    /// <summary>Decodes as many whole ids as fit into <paramref name="destination"/>.</summary>
    public override OperationStatus Decode(IEnumerable<int> ids, Span<char> destination, out int idsConsumed, out int charsWritten)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var list = ids as IReadOnlyList<int> ?? ids.ToArray();
        var text = Decode(list);
        if (text.Length <= destination.Length)
        {
            text.AsSpan().CopyTo(destination);
            idsConsumed = list.Count;
            charsWritten = text.Length;
            return OperationStatus.Done;
        }
        idsConsumed = 0;
        charsWritten = 0;
        for (int k = 1; k < list.Count; k++)
        {
            var prefix = Decode(list.Take(k));
            if (prefix.Length > destination.Length) break;
            idsConsumed = k;
            charsWritten = prefix.Length;
        }
        Decode(list.Take(idsConsumed)).AsSpan().CopyTo(destination);
        return OperationStatus.DestinationTooSmall;
    }

    /// <summary>Length of the text of the first <paramref name="count"/> ids, without a trailing unfinished character (U+FFFD).</summary>
    private int SettledLength(IReadOnlyList<int> ids, int count)
    {
        var text = Decode(ids.Take(count));
        int length = text.Length;
        while (length > 0 && text[length - 1] == '\uFFFD') length--;
        return count == ids.Count ? text.Length : length;
    }

    /// <summary>
    /// The text of a single token id as it appears when appended to a decoded stream (a leading word
    /// boundary is a space; special tokens give an empty string), or null when the id is out of range.
    /// A byte token that is only part of a multi-byte UTF-8 character gives U+FFFD; to stream such
    /// characters exactly, decode the accumulated ids and emit the new suffix.
    /// </summary>
    public abstract string? IdToPiece(int id);

    /// <summary>The id of a token given by its exact vocabulary string (for example <c>"&lt;/s&gt;"</c>), or null when there is none.</summary>
    public virtual int? TokenToId(string token) => null;

    /// <summary>
    /// Loads a tokenizer from a <c>tokenizer.model</c> (SentencePiece) file, a <c>tokenizer.json</c>
    /// (Hugging Face byte-level or SentencePiece-style BPE) file, or a directory that contains one of them (or GPT-2 style <c>vocab.json</c> + <c>merges.txt</c>, as OPT ships). When a directory has
    /// both, <c>tokenizer.json</c> is used, as <c>AutoTokenizer</c> loads the fast tokenizer from it (the
    /// <c>tokenizer.model</c> only when this library cannot read the <c>tokenizer.json</c>). A
    /// <c>tokenizer_config.json</c> beside the file supplies <see cref="AddBosToken"/>,
    /// <see cref="AddEosToken"/>, the special token strings and <see cref="ChatTemplate"/>.
    /// </summary>
    /// <exception cref="FileNotFoundException">The path does not exist, or the directory holds no tokenizer file.</exception>
    /// <exception cref="TokenizerFormatException">The tokenizer file cannot be used.</exception>
    public static TextTokenizer Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);

        if (Directory.Exists(path))
        {
            string model = Path.Combine(path, SentencePieceFileName);
            string json = Path.Combine(path, HuggingFaceFileName);
            bool hasModel = File.Exists(model);
            bool hasJson = File.Exists(json);

            if (hasModel && !hasJson)
            {
                return SentencePieceTokenizer.FromFile(model);
            }

            if (hasJson && !hasModel)
            {
                return FromTokenizerJson(json);
            }

            if (hasModel && hasJson)
            {
                // AutoTokenizer loads the fast tokenizer, tokenizer.json, as it is written (tokenizer_config.json's
                // "legacy" only matters when it is converted from tokenizer.model); tokenizer.model serves only a
                // tokenizer.json this library cannot read.
                TokenizerFormatException jsonProblem;
                try
                {
                    return FromTokenizerJson(json);
                }
                catch (TokenizerFormatException ex)
                {
                    jsonProblem = ex;
                }

                try
                {
                    return SentencePieceTokenizer.FromFile(model);
                }
                catch (TokenizerFormatException ex)
                {
                    throw new TokenizerFormatException(
                        path,
                        $"neither tokenizer file can be used: {jsonProblem.Message} {ex.Message}",
                        new AggregateException(jsonProblem, ex));
                }
            }

            if (Gpt2TokenizerFiles.Exist(path))
            {
                return Gpt2TokenizerFiles.Load(path);
            }

            throw new FileNotFoundException(
                $"The directory '{Path.GetFullPath(path)}' contains neither '{SentencePieceFileName}', '{HuggingFaceFileName}' nor '{Gpt2TokenizerFiles.VocabFileName}' + '{Gpt2TokenizerFiles.MergesFileName}'.",
                model);
        }

        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Tokenizer file or directory '{Path.GetFullPath(path)}' does not exist.", path);
        }

        return string.Equals(Path.GetExtension(path), ".json", StringComparison.OrdinalIgnoreCase)
            ? FromTokenizerJson(path)
            : SentencePieceTokenizer.FromFile(path);
    }

    /// <summary>
    /// Loads a Hugging Face <c>tokenizer.json</c>: a <see cref="SentencePieceJsonTokenizer"/> when its BPE model uses byte
    /// fallback or nothing in it is byte-level (Llama 2, TinyLlama, Mistral), else a <see cref="ByteLevelBpeTokenizer"/>.
    /// </summary>
    private static TextTokenizer FromTokenizerJson(string path)
    {
        string fullPath = RequireFile(path);
        try
        {
            using FileStream stream = File.OpenRead(fullPath);
            using var document = System.Text.Json.JsonDocument.Parse(stream, new System.Text.Json.JsonDocumentOptions { AllowTrailingCommas = true });
            return SentencePieceJsonTokenizer.IsSentencePieceStyle(document.RootElement)
                ? SentencePieceJsonTokenizer.Create(fullPath, document.RootElement)
                : ByteLevelBpeTokenizer.Create(fullPath, document.RootElement);
        }
        catch (System.Text.Json.JsonException ex)
        {
            throw new TokenizerFormatException(fullPath, $"not valid JSON ({ex.Message})", ex);
        }
    }

    /// <summary>Applies the settings of a <c>tokenizer_config.json</c> common to every tokenizer kind.</summary>
    internal void ApplyConfig(TokenizerConfig? config, bool defaultAddBos, bool defaultAddEos)
    {
        AddBosToken = config?.AddBosToken ?? defaultAddBos;
        AddEosToken = config?.AddEosToken ?? defaultAddEos;
        ChatTemplate = config?.ChatTemplate;
        ConfigPath = config?.FilePath;
    }

    /// <summary>Throws <see cref="FileNotFoundException"/> naming <paramref name="path"/> when it does not exist.</summary>
    internal static string RequireFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string fullPath = Path.GetFullPath(path);
        if (!File.Exists(fullPath))
        {
            throw new FileNotFoundException($"Tokenizer file '{fullPath}' does not exist.", fullPath);
        }

        return fullPath;
    }
}
