using System.Text.Json;
using System.Text.Json.Nodes;

namespace Microsoft.ML.NEFTune.Tests.Tokenizers;

/// <summary>
/// Writes a small GPT-2 style byte-level BPE <c>tokenizer.json</c>: ids 0-255 are the 256 byte
/// characters (id = byte value), then the merge results in merge order, then the added tokens.
/// </summary>
public static class TinyByteLevelTokenizerJson
{
    public static readonly string[] Merges =
    [
        "Ġ w",      // 256 Ġw
        "o r",      // 257 or
        "Ġw or",    // 258 Ġwor
        "l d",      // 259 ld
        "Ġwor ld",  // 260 Ġworld
        "h e",      // 261 he
        "l l",      // 262 ll
        "he ll",    // 263 hell
        "hell o",   // 264 hello
        "a a",      // 265 aa
    ];

    public const int Hello = 264;
    public const int SpaceWorld = 260;
    public const int DoubleA = 265;
    public const int EndOfText = 266;   // special
    public const int Note = 267;        // added, not special
    public const int Xyz = 268;         // in the vocabulary, reachable only without merges

    /// <summary>The GPT-2 byte-to-character table, written out independently of the product code.</summary>
    public static char ByteChar(int b)
    {
        bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
        if (printable)
        {
            return (char)b;
        }

        int n = 0;
        for (int i = 0; i < b; i++)
        {
            if (!(i is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF))
            {
                n++;
            }
        }

        return (char)(256 + n);
    }

    public static JsonObject Build(JsonNode? preTokenizer = null, bool ignoreMerges = false)
    {
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++)
        {
            vocab[ByteChar(b).ToString()] = b;
        }

        int next = 256;
        foreach (string merge in Merges)
        {
            vocab[merge.Replace(" ", string.Empty)] = next++;
        }

        vocab["xyz"] = Xyz;

        return new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(
                new JsonObject { ["id"] = EndOfText, ["content"] = "<|endoftext|>", ["special"] = true, ["lstrip"] = false, ["rstrip"] = false, ["single_word"] = false, ["normalized"] = false },
                new JsonObject { ["id"] = Note, ["content"] = "[NOTE]", ["special"] = false, ["lstrip"] = false, ["rstrip"] = false, ["single_word"] = false, ["normalized"] = false }),
            ["normalizer"] = null,
            ["pre_tokenizer"] = preTokenizer ?? ByteLevel(addPrefixSpace: false, useRegex: true),
            ["post_processor"] = null,
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = null,
                ["continuing_subword_prefix"] = "",
                ["end_of_word_suffix"] = "",
                ["fuse_unk"] = false,
                ["byte_fallback"] = false,
                ["ignore_merges"] = ignoreMerges,
                ["vocab"] = vocab,
                ["merges"] = new JsonArray(Merges.Select(m => (JsonNode)JsonValue.Create(m)!).ToArray()),
            },
        };
    }

    public static JsonObject ByteLevel(bool addPrefixSpace, bool useRegex)
        => new() { ["type"] = "ByteLevel", ["add_prefix_space"] = addPrefixSpace, ["trim_offsets"] = true, ["use_regex"] = useRegex };

    public static string Write(TempDirectory dir, JsonObject json, string name = "tokenizer.json")
    {
        string path = dir[name];
        File.WriteAllText(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return path;
    }
}
