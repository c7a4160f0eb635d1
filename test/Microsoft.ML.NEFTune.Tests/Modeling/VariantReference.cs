using System.Text.Json;

namespace Microsoft.ML.NEFTune.Tests.Modeling;

/// <summary>
/// A small checkpoint of one config variant and its float64 reference outputs, written by
/// <c>eng/reference/model_variants.py</c> (a NumPy model written from the <c>transformers</c> sources).
/// </summary>
public sealed class VariantReference
{
    /// <summary>Every variant the script writes.</summary>
    public static readonly string[] Names =
    {
        "llama-f32", "llama-bf16-llama3-headdim", "llama-f16-linear-bias", "llama-dynamic",
        "mistral-swa", "qwen2-bias-tied", "phi3-swa", "phi3-longrope",
    };

    public static TheoryData<string> All => new(Names);

    public required string Directory { get; init; }
    public required long[] InputIds { get; init; }
    public required double[,] Logits { get; init; }
    public required int Prefill { get; init; }
    public required double[,] CachedLogits { get; init; }
    public required long[] Prompt { get; init; }
    public required int MaxNewTokens { get; init; }
    public required long[] GreedyUncached { get; init; }
    public required long[] GreedyCached { get; init; }

    public static string PathOf(string name)
    {
        var directory = Path.Combine(AppContext.BaseDirectory, "Fixtures", "variants", name);
        if (!System.IO.Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Variant fixture not found: {directory} (written by eng/reference/model_variants.py)");
        return directory;
    }

    public static VariantReference Load(string name)
    {
        var directory = PathOf(name);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "expected.json")));
        var root = doc.RootElement;
        long[] Ids(string key) => root.GetProperty(key).EnumerateArray().Select(e => e.GetInt64()).ToArray();
        double[,] Matrix(string key)
        {
            var rows = root.GetProperty(key).EnumerateArray().Select(r => r.EnumerateArray().Select(e => e.GetDouble()).ToArray()).ToArray();
            var m = new double[rows.Length, rows[0].Length];
            for (int i = 0; i < rows.Length; i++) for (int j = 0; j < rows[i].Length; j++) m[i, j] = rows[i][j];
            return m;
        }
        return new VariantReference
        {
            Directory = directory,
            InputIds = Ids("input_ids"),
            Logits = Matrix("logits"),
            Prefill = root.GetProperty("prefill").GetInt32(),
            CachedLogits = Matrix("cached_logits"),
            Prompt = Ids("prompt"),
            MaxNewTokens = root.GetProperty("max_new_tokens").GetInt32(),
            GreedyUncached = Ids("greedy_uncached"),
            GreedyCached = Ids("greedy_cached"),
        };
    }
}
