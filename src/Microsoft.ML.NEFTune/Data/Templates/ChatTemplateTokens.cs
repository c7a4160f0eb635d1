using Microsoft.ML.NEFTune.IO.Tokenizers;

namespace Microsoft.ML.NEFTune.Data.Templates;

/// <summary>
/// The special token strings a chat template sees, as transformers passes its <c>special_tokens_map</c>: only the
/// tokens that are set become variables (an unset <c>bos_token</c> is undefined in the template, not "None").
/// </summary>
public sealed class ChatTemplateTokens
{
    /// <summary>The beginning-of-sequence token text (<c>bos_token</c>), or null.</summary>
    public string? BosToken { get; init; }

    /// <summary>The end-of-sequence token text (<c>eos_token</c>), or null.</summary>
    public string? EosToken { get; init; }

    /// <summary>The padding token text (<c>pad_token</c>), or null.</summary>
    public string? PadToken { get; init; }

    /// <summary>The unknown token text (<c>unk_token</c>), or null.</summary>
    public string? UnkToken { get; init; }

    /// <summary>Other named special tokens (<c>sep_token</c>, <c>cls_token</c>, <c>mask_token</c>).</summary>
    public IReadOnlyDictionary<string, string> Other { get; init; } = new Dictionary<string, string>();

    /// <summary>The <c>additional_special_tokens</c> list.</summary>
    public IReadOnlyList<string> AdditionalSpecialTokens { get; init; } = Array.Empty<string>();

    /// <summary>Special tokens the tokenizer knows besides the named ones (from <c>added_tokens_decoder</c>); used to find end-of-turn tokens.</summary>
    public IReadOnlyList<string> OtherSpecialTokens { get; init; } = Array.Empty<string>();

    /// <summary>The named tokens as template variables (name, value); unset ones are left out by the renderer.</summary>
    internal IEnumerable<(string Name, string? Value)> Named =>
        new[] { ("bos_token", BosToken), ("eos_token", EosToken), ("unk_token", UnkToken), ("pad_token", PadToken) }
            .Concat(Other.Select(p => (p.Key, (string?)p.Value)));

    /// <summary>Every special token string known.</summary>
    internal IEnumerable<string> AllSpecialTokens =>
        Named.Where(p => p.Value is not null).Select(p => p.Value!).Concat(AdditionalSpecialTokens).Concat(OtherSpecialTokens).Distinct();

    internal static ChatTemplateTokens From(TokenizerConfig config) => new()
    {
        BosToken = config.BosToken,
        EosToken = config.EosToken,
        PadToken = config.PadToken,
        UnkToken = config.OtherSpecialTokens.GetValueOrDefault("unk_token"),
        Other = config.OtherSpecialTokens.Where(p => p.Key != "unk_token").ToDictionary(p => p.Key, p => p.Value),
        AdditionalSpecialTokens = config.AdditionalSpecialTokens,
        OtherSpecialTokens = config.SpecialAddedTokens,
    };
}
