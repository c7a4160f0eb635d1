namespace Microsoft.ML.NEFTune.Tests;

/// <summary>Finds the shared, read-only test fixtures at <c>&lt;repository&gt;/../shared/fixtures</c>.</summary>
public static class Fixtures
{
    private static readonly Lazy<string> Root = new(FindRoot);

    /// <summary>Full path of a fixture; fails with a message naming the path when it is missing.</summary>
    public static string Path(params string[] parts)
    {
        var path = System.IO.Path.Combine(new[] { Root.Value }.Concat(parts).ToArray());
        if (!File.Exists(path) && !Directory.Exists(path))
            throw new FileNotFoundException($"Test fixture not found: {path}. The fixtures live in ../shared/fixtures beside the repository.", path);
        return path;
    }

    public static string StoriesBin => Path("models", "stories260K.bin");
    public static string StoriesHf => Path("models", "stories260K-hf");
    public static string StoriesReference => Path("models", "stories260K.reference.json");
    public static string LlamaTokenizer => Path("tokenizers", "llama2", "tokenizer.model");
    public static string AlpacaDemo => Path("data", "alpaca_en_demo.json");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Microsoft.ML.NEFTune.sln")))
                return System.IO.Path.GetFullPath(System.IO.Path.Combine(dir.FullName, "..", "shared", "fixtures"));
        }
        throw new DirectoryNotFoundException($"Could not find the repository root (Microsoft.ML.NEFTune.sln) above {AppContext.BaseDirectory}.");
    }
}
