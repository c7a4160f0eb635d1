using System.Text.RegularExpressions;

namespace Microsoft.ML.NEFTune.Hub;

/// <summary>Where and how <see cref="HuggingFaceHub"/> fetches; every default comes from the environment as <c>huggingface_hub</c> reads it.</summary>
public sealed record HuggingFaceHubOptions
{
    /// <summary>The cache folder. Default null: <see cref="HuggingFaceCache.DefaultDirectory"/> (<c>HF_HUB_CACHE</c>, <c>HF_HOME</c>).</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>The Hub address. Default null: <c>HF_ENDPOINT</c>, else <c>https://huggingface.co</c>.</summary>
    public string? Endpoint { get; init; }

    /// <summary>An access token for gated or private repositories. Default null: <c>HF_TOKEN</c> (or <c>HUGGING_FACE_HUB_TOKEN</c>).</summary>
    public string? Token { get; init; }

    /// <summary>Use only the cache, never the network. Default null: <see cref="HuggingFaceCache.IsOfflineMode"/> (<c>HF_HUB_OFFLINE=1</c>).</summary>
    public bool? Offline { get; init; }

    /// <summary>Glob patterns (<c>*</c>, <c>?</c>, <c>**</c>) of the files to fetch, e.g. <c>*.json</c>; null or empty = every file. Default null.</summary>
    public IReadOnlyList<string>? AllowPatterns { get; init; }

    /// <summary>
    /// Further attempts after a network failure or a server error, waiting 2, 4, 8… seconds (at most 30); an interrupted
    /// file continues where it stopped. Default 3.
    /// </summary>
    public int Retries { get; init; } = 3;

    /// <summary><c>model</c> or <c>dataset</c>. Default <c>model</c>.</summary>
    public string RepositoryType { get; init; } = HubRepository.Model;
}

/// <summary>
/// Fetches repositories of the Hugging Face Hub into the shared <see cref="HuggingFaceCache"/> and returns the snapshot
/// folder, which <see cref="IO.ModelLoader"/>, <see cref="IO.Tokenizers.TextTokenizer"/> and the ML.NET estimator read
/// like any model folder. A revision already in the cache (downloaded by this library or by Python) is used without
/// network when <c>HF_HUB_OFFLINE=1</c>; otherwise the revision is resolved to its commit and only missing or changed
/// files are downloaded (resumable, checked against the Hub's SHA-256 or git blob id).
/// </summary>
public static class HuggingFaceHub
{
    /// <summary>The local folder of <paramref name="repoId"/> at <paramref name="revision"/>; see the class remarks.</summary>
    /// <exception cref="HubException">The repository, revision or a file cannot be fetched (the message says why: 401, 404, checksum, offline and not cached).</exception>
    public static string Snapshot(string repoId, string revision = "main", HuggingFaceHubOptions? options = null) =>
        SnapshotAsync(repoId, revision, options).GetAwaiter().GetResult();

    /// <inheritdoc cref="Snapshot"/>
    public static async Task<string> SnapshotAsync(string repoId, string revision = "main", HuggingFaceHubOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(revision);
        options ??= new HuggingFaceHubOptions();
        var repo = new HubRepository(repoId, options.RepositoryType);
        var cache = new HuggingFaceCache(options.CacheDirectory);
        if (options.Offline ?? HuggingFaceCache.IsOfflineMode())
        {
            return cache.FindSnapshot(repo, revision)
                ?? throw new HubException($"{repo}@{revision} is not in the Hugging Face cache {cache.Directory}, and offline mode (HF_HUB_OFFLINE=1) forbids downloading it", true);
        }
        var endpoint = options.Endpoint ?? HubEnvironment.Endpoint;
        var token = options.Token ?? HubEnvironment.Token;
        if (options.Retries < 0) throw new ArgumentOutOfRangeException(nameof(options), options.Retries, "HuggingFaceHubOptions.Retries must be >= 0.");
        using var client = new HubClient(new Uri(endpoint), token) { Retries = options.Retries };
        var commit = await client.GetCommitAsync(repo, revision, cancellationToken).ConfigureAwait(false);
        var patterns = (options.AllowPatterns ?? Array.Empty<string>()).Select(Glob).ToArray();
        var files = (await client.ListFilesAsync(repo, commit, cancellationToken).ConfigureAwait(false))
            .Where(f => patterns.Length == 0 || patterns.Any(p => p.IsMatch(f.Path))).ToList();
        if (files.Count == 0) throw new HubException($"{repo}@{revision}: no file{(patterns.Length > 0 ? " matches " + string.Join(", ", options.AllowPatterns!) : "")}", true);
        foreach (var file in files)
        {
            var blob = await client.DownloadAsync(repo, commit, file, cache.Directory, null, cancellationToken).ConfigureAwait(false);
            cache.Link(repo, commit, file.Path, blob);
        }
        cache.WriteRef(repo, revision, commit);
        return cache.SnapshotDirectory(repo, commit);
    }

    /// <summary>
    /// <paramref name="modelPath"/> itself when it exists on disk or is not a repository id; otherwise (<c>owner/name</c>)
    /// the snapshot folder of that repository: from the cache when it holds the revision (no network, and no check for
    /// a newer commit: call <see cref="Snapshot"/> for that), else downloaded by <see cref="Snapshot"/> unless offline.
    /// </summary>
    /// <exception cref="HubException">The id is neither cached nor downloadable; the message says that it is no local path either.</exception>
    public static string ResolveModelPath(string modelPath, string revision = "main", HuggingFaceHubOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        if (File.Exists(modelPath) || Directory.Exists(modelPath) || !modelPath.Contains('/') || !HubRepository.IsValidId(modelPath)) return modelPath;
        options ??= new HuggingFaceHubOptions();
        var cached = new HuggingFaceCache(options.CacheDirectory).FindSnapshot(new HubRepository(modelPath, options.RepositoryType), revision);
        if (cached is not null) return cached;
        try
        {
            return Snapshot(modelPath, revision, options);
        }
        catch (HubException e)
        {
            throw new HubException($"'{modelPath}' is no local file or folder, and as a Hugging Face Hub repository: {e.Message}", e.IsUsageError, e);
        }
    }

    /// <summary>A glob over '/'-separated paths: <c>**</c> any run of characters, <c>*</c> and <c>?</c> within one segment.</summary>
    internal static Regex Glob(string pattern) =>
        new("^" + Regex.Escape(pattern).Replace(@"\*\*", "\u0001").Replace(@"\*", "[^/]*").Replace(@"\?", "[^/]").Replace("\u0001", ".*") + "$",
            RegexOptions.CultureInvariant);

}
