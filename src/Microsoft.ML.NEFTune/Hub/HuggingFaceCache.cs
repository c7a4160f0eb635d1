using System.Text.RegularExpressions;
using Microsoft.ML.NEFTune.IO;

namespace Microsoft.ML.NEFTune.Hub;

/// <summary>
/// The cache layout of Python's <c>huggingface_hub</c>, shared with it: <c>{cache}/models--owner--name/</c> holds
/// <c>blobs/{sha256 or git blob id}</c> (the file contents), <c>refs/{branch or tag}</c> (a text file with the commit id)
/// and <c>snapshots/{commit}/{path}</c> (relative symbolic links to the blobs, or copies where links cannot be made).
/// A model another program downloaded is found here without network, and the other way round.
/// </summary>
public sealed partial class HuggingFaceCache
{
    /// <param name="directory">The cache folder; null for <see cref="DefaultDirectory"/>.</param>
    public HuggingFaceCache(string? directory = null) => Directory = Path.GetFullPath(directory ?? DefaultDirectory());

    /// <summary>The cache folder.</summary>
    public string Directory { get; }

    /// <summary>
    /// <c>HF_HUB_CACHE</c>, else <c>HF_HOME/hub</c>, else <c>XDG_CACHE_HOME/huggingface/hub</c>, else
    /// <c>~/.cache/huggingface/hub</c>, as <c>huggingface_hub</c> chooses it.
    /// </summary>
    public static string DefaultDirectory()
    {
        if (Variable("HF_HUB_CACHE") is { } cache) return cache;
        if (Variable("HF_HOME") is { } home) return Path.Combine(home, "hub");
        var xdg = Variable("XDG_CACHE_HOME") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(xdg, "huggingface", "hub");
    }

    /// <summary>True when <c>HF_HUB_OFFLINE</c> is <c>1</c>, <c>true</c>, <c>yes</c> or <c>on</c>: nothing may be downloaded.</summary>
    public static bool IsOfflineMode() => Variable("HF_HUB_OFFLINE")?.Trim().ToLowerInvariant() is "1" or "true" or "yes" or "on";

    /// <summary>Whether <paramref name="revision"/> is a full commit id (40 hexadecimal digits).</summary>
    public static bool IsCommit(string? revision) => revision is not null && CommitPattern().IsMatch(revision);

    /// <summary>The repository's folder: <c>{cache}/models--owner--name</c>.</summary>
    public string RepositoryDirectory(HubRepository repo) => Path.Combine(Directory, repo.CacheFolder);

    /// <summary>The folder of a commit's files.</summary>
    public string SnapshotDirectory(HubRepository repo, string commit) => Path.Combine(RepositoryDirectory(repo), "snapshots", commit.ToLowerInvariant());

    /// <summary>
    /// The snapshot folder of <paramref name="revision"/> (a commit id, or a branch or tag recorded in <c>refs/</c>), or
    /// null when the cache does not hold it.
    /// </summary>
    public string? FindSnapshot(HubRepository repo, string revision)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentException.ThrowIfNullOrEmpty(revision);
        string? commit = IsCommit(revision) ? revision : null;
        if (commit is null && !revision.Split('/').Any(p => p is "" or "." or ".."))
        {
            var refFile = Path.Combine(RepositoryDirectory(repo), "refs", revision.Replace('/', Path.DirectorySeparatorChar));
            if (File.Exists(refFile) && File.ReadAllText(refFile).Trim() is var text && IsCommit(text)) commit = text;
        }
        if (commit is null) return null;
        var snapshot = SnapshotDirectory(repo, commit);
        return System.IO.Directory.Exists(snapshot) ? snapshot : null;
    }

    /// <summary>Records that <paramref name="revision"/> (a branch or tag) points to <paramref name="commit"/>.</summary>
    public void WriteRef(HubRepository repo, string revision, string commit)
    {
        if (IsCommit(revision)) return;
        if (!IsCommit(commit)) throw new ArgumentException($"'{commit}' is not a commit id.", nameof(commit));
        if (revision.Split('/').Any(p => p is "" or "." or "..")) throw new ArgumentException($"'{revision}' is not a revision name.", nameof(revision));
        var refFile = Path.Combine(RepositoryDirectory(repo), "refs", revision.Replace('/', Path.DirectorySeparatorChar));
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(refFile)!);
        AtomicFile.WriteAllText(refFile, commit.ToLowerInvariant());
    }

    /// <summary>
    /// Makes <c>snapshots/{commit}/{path}</c> point to <paramref name="blob"/> (a file in this repository's
    /// <c>blobs/</c>): a relative symbolic link, or a copy where the file system or rights allow no link.
    /// </summary>
    public string Link(HubRepository repo, string commit, string path, string blob)
    {
        if (!IsCommit(commit)) throw new ArgumentException($"'{commit}' is not a commit id.", nameof(commit));
        if (path.Split('/').Any(p => p is "" or "." or "..") || Path.IsPathRooted(path)) throw new IOException($"{repo}: unsafe file path '{path}'");
        var target = Path.Combine(SnapshotDirectory(repo, commit), path.Replace('/', Path.DirectorySeparatorChar));
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var info = new FileInfo(target);
        if (info.LinkTarget is not null || info.Exists) File.Delete(target);
        try
        {
            File.CreateSymbolicLink(target, Path.GetRelativePath(Path.GetDirectoryName(target)!, blob));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            AtomicFile.Copy(blob, target);
        }
        return target;
    }

    private static string? Variable(string name) => HubEnvironment.Variable(name);

    [GeneratedRegex("^[0-9a-fA-F]{40}$")]
    private static partial Regex CommitPattern();
}
