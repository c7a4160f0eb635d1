namespace Microsoft.ML.NEFTune.Tests;

/// <summary>Files committed in this repository (reference outputs written by scripts under <c>eng/</c>).</summary>
internal static class RepositoryFiles
{
    private static readonly Lazy<string> RootPath = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Microsoft.ML.NEFTune.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"Could not find the repository root (Microsoft.ML.NEFTune.sln) above {AppContext.BaseDirectory}.");
    });

    public static string Root => RootPath.Value;
}
