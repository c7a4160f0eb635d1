namespace Microsoft.ML.NEFTune.Tests;

/// <summary>Finds the shared, read-only test fixtures at <c>&lt;repository&gt;/../shared/fixtures</c> (or beside a parent of the repository).</summary>
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

    /// <summary>
    /// <c>shared/fixtures</c> beside the repository root, or beside one of its parents (a git worktree such as
    /// <c>wt/NAME</c> sits one level deeper than the main checkout).
    /// </summary>
    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (!File.Exists(System.IO.Path.Combine(dir.FullName, "Microsoft.ML.NEFTune.sln"))) continue;
            var beside = System.IO.Path.GetFullPath(System.IO.Path.Combine(dir.FullName, "..", "shared", "fixtures"));
            for (var parent = dir.Parent; parent is not null; parent = parent.Parent)
            {
                var candidate = System.IO.Path.Combine(parent.FullName, "shared", "fixtures");
                if (Directory.Exists(candidate)) return candidate;
            }
            return beside;
        }
        throw new DirectoryNotFoundException($"Could not find the repository root (Microsoft.ML.NEFTune.sln) above {AppContext.BaseDirectory}.");
    }
}
