using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Microsoft.ML.NEFTune.Tests.Tokenizers;

/// <summary>
/// A real <c>tokenizer.json</c> (Fixtures/Tokenizers/NAME) and the ids Hugging Face's Rust <c>tokenizers</c> gives for it
/// (written by eng/references/encode-tokenizers.mjs): per text without and with special tokens, a few pairs, and
/// decodes. <see cref="Materialize"/> writes the tokenizer folder (the gzip file unpacked, a patch applied) to a
/// temporary directory, as a model folder would hold it.
/// </summary>
public sealed record TokenizerJsonReference(string Name, IReadOnlyList<TokenizerJsonReference.Case> Cases, IReadOnlyList<TokenizerJsonReference.Pair> Pairs, IReadOnlyList<TokenizerJsonReference.Decoded> Decodes, IReadOnlyList<TokenizerJsonReference.Chat> Chats)
{
    /// <summary>A conversation rendered by a real chat template (<see cref="Template"/> in Fixtures/ChatTemplates/templates.json) and its ids without added special tokens.</summary>
    public sealed record Chat(string Template, (string Role, string Content)[] Messages, string Text, int[] Ids);

    public sealed record Case(int Index, string Text, int[] Ids, int[] IdsWithSpecialTokens);

    public sealed record Pair(string Text, string Second, int[] IdsWithSpecialTokens);

    public sealed record Decoded(int[] Ids, string Text);

    public static string Root => Path.Combine(AppContext.BaseDirectory, "Fixtures", "Tokenizers");

    public static TokenizerJsonReference Load(string name)
    {
        var root = JsonNode.Parse(File.ReadAllText(Path.Combine(Root, name, "expected.json")))!;
        var cases = root["cases"]!.AsArray().Select((c, i) => new Case(i, (string)c!["text"]!, Ints(c["ids"]), Ints(c["ids_with_special_tokens"]))).ToArray();
        var pairs = root["pairs"]!.AsArray().Select(p => new Pair((string)p!["text"]!, (string)p["pair"]!, Ints(p["ids_with_special_tokens"]))).ToArray();
        var decodes = root["decoded"]!.AsArray().Select(d => new Decoded(Ints(d!["ids"]), (string)d["text"]!)).ToArray();
        var chats = root["chats"]!.AsArray().Select(c => new Chat(
            (string)c!["template"]!,
            c["messages"]!.AsArray().Select(m => ((string)m!["role"]!, (string)m["content"]!)).ToArray(),
            (string)c["text"]!,
            Ints(c["ids"]))).ToArray();
        return new TokenizerJsonReference(name, cases, pairs, decodes, chats);
    }

    /// <summary>Writes tokenizer.json and tokenizer_config.json of <paramref name="name"/> into <paramref name="directory"/>.</summary>
    public static void Materialize(string name, string directory)
    {
        string source = Path.Combine(Root, name);
        File.Copy(Path.Combine(source, "tokenizer_config.json"), Path.Combine(directory, "tokenizer_config.json"), overwrite: true);
        File.WriteAllText(Path.Combine(directory, "tokenizer.json"), TokenizerJsonText(name));
    }

    /// <summary>The tokenizer.json text of <paramref name="name"/>.</summary>
    public static string TokenizerJsonText(string name)
    {
        string source = Path.Combine(Root, name);
        string plain = Path.Combine(source, "tokenizer.json");
        if (File.Exists(plain)) return File.ReadAllText(plain);
        string zipped = Path.Combine(source, "tokenizer.json.gz");
        if (File.Exists(zipped))
        {
            using var input = new GZipStream(File.OpenRead(zipped), CompressionMode.Decompress);
            using var reader = new StreamReader(input);
            return reader.ReadToEnd();
        }

        // A variant: the llama2 file with some top-level entries replaced.
        var json = JsonNode.Parse(TokenizerJsonText("llama2"))!.AsObject();
        foreach (var (key, value) in JsonNode.Parse(File.ReadAllText(Path.Combine(source, "tokenizer.patch.json")))!.AsObject())
            json[key] = value?.DeepClone();
        return json.ToJsonString();
    }

    private static int[] Ints(JsonNode? node) => node!.AsArray().Select(n => (int)n!).ToArray();
}
