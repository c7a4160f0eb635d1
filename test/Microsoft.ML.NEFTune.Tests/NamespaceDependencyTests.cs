using System.Text.RegularExpressions;

namespace Microsoft.ML.NEFTune.Tests;

/// <summary>
/// The library's folders depend on each other without cycles (docs/architecture.md): read from the sources, a folder
/// uses another when a file has a <c>using</c> directive for it or names a type through its namespace in code.
/// </summary>
public class NamespaceDependencyTests
{
    private const string Root = "Microsoft.ML.NEFTune";

    private static string LibraryDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Microsoft.ML.NEFTune.sln"))) return Path.Combine(dir.FullName, "src", Root);
        throw new DirectoryNotFoundException($"Could not find the repository root (Microsoft.ML.NEFTune.sln) above {AppContext.BaseDirectory}.");
    }

    /// <summary>The folder a namespace belongs to: its first segment after the root; the root namespace is MLNet's.</summary>
    private static string Folder(string ns) => ns == Root ? "MLNet" : ns[(Root.Length + 1)..].Split('.')[0];

    private static Dictionary<string, HashSet<string>> Edges()
    {
        var edges = new Dictionary<string, HashSet<string>>();
        foreach (var file in Directory.EnumerateFiles(LibraryDirectory(), "*.cs", SearchOption.AllDirectories))
        {
            if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") || file.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}")) continue;
            var code = Regex.Replace(File.ReadAllText(file), @"//.*|""(?:[^""\\]|\\.)*""", "");
            var ns = Regex.Match(code, @"^namespace\s+([\w.]+)", RegexOptions.Multiline);
            Assert.True(ns.Success, $"{file} declares no namespace");
            var from = Folder(ns.Groups[1].Value);
            var uses = Regex.Matches(code, @"\bMicrosoft\.ML\.NEFTune\.(\w+)").Select(m => m.Groups[1].Value)
                .Concat(Regex.Matches(code, @"^using\s+(?:static\s+)?Microsoft\.ML\.NEFTune\.(\w+)", RegexOptions.Multiline).Select(m => m.Groups[1].Value));
            if (!edges.TryGetValue(from, out var set)) edges[from] = set = new HashSet<string>();
            foreach (var to in uses.Where(u => u != from && !char.IsLower(u[0]))) set.Add(to);
        }
        return edges;
    }

    [Fact]
    public void NoFolderDependsOnItselfThroughOthers()
    {
        var edges = Edges();
        foreach (var (from, targets) in edges)
        {
            foreach (var to in targets)
            {
                var path = PathBetween(edges, to, from);
                Assert.True(path is null, $"namespace cycle: {from} -> {string.Join(" -> ", path ?? new List<string>())}");
            }
        }
    }

    [Fact]
    public void ModelingUsesNothingOfTheLibraryAndNothingUsesMLNet()
    {
        var edges = Edges();

        Assert.Empty(edges["Modeling"]);
        Assert.DoesNotContain(edges, e => e.Key != "MLNet" && e.Value.Contains("MLNet"));
        Assert.True(edges["MLNet"].Count > 3);   // the reading works: the ML.NET layer uses most folders
    }

    /// <summary>A path of folders from <paramref name="start"/> to <paramref name="goal"/> (both included), or null.</summary>
    private static List<string>? PathBetween(Dictionary<string, HashSet<string>> edges, string start, string goal)
    {
        var previous = new Dictionary<string, string?> { [start] = null };
        var queue = new Queue<string>(new[] { start });
        while (queue.Count > 0)
        {
            var node = queue.Dequeue();
            if (node == goal)
            {
                var path = new List<string>();
                for (string? n = node; n is not null; n = previous[n]) path.Insert(0, n);
                return path;
            }
            foreach (var next in edges.GetValueOrDefault(node) ?? new HashSet<string>())
                if (previous.TryAdd(next, node)) queue.Enqueue(next);
        }
        return null;
    }
}
