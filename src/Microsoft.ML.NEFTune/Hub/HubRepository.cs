using System.Text.RegularExpressions;

namespace Microsoft.ML.NEFTune.Hub;

/// <summary>A Hugging Face Hub repository: <c>owner/name</c> (or a bare <c>name</c>) of a model or a dataset.</summary>
public sealed partial record HubRepository
{
    public HubRepository(string id, string type = Model)
    {
        if (!IsValidId(id)) throw new ArgumentException($"'{id}' is not a repository id (expected owner/name, letters, digits, '-', '_' and '.')", nameof(id));
        if (type is not (Model or Dataset)) throw new ArgumentException($"unknown repository type '{type}' (model or dataset)", nameof(type));
        Id = id;
        Type = type;
    }

    public const string Model = "model";
    public const string Dataset = "dataset";

    public string Id { get; }
    public string Type { get; }

    /// <summary>The API path of the repository, e.g. <c>api/models/owner/name</c>.</summary>
    public string ApiPath => (Type == Dataset ? "api/datasets/" : "api/models/") + Id;

    /// <summary>The path files are resolved under, e.g. <c>owner/name/resolve</c> or <c>datasets/owner/name/resolve</c>.</summary>
    public string ResolvePath => (Type == Dataset ? "datasets/" : "") + Id + "/resolve";

    /// <summary>The repository's folder in the cache, as the Hub's own cache names it: <c>models--owner--name</c>.</summary>
    public string CacheFolder => Type + "s--" + Id.Replace("/", "--");

    public override string ToString() => Id;

    public static bool IsValidId(string id) => id is not null && IdPattern().IsMatch(id) && !id.Split('/').Any(p => p is "." or ".." || p.StartsWith("--") || p.EndsWith("--"));

    [GeneratedRegex(@"^([A-Za-z0-9][A-Za-z0-9._-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")]
    private static partial Regex IdPattern();
}

/// <summary>A file of a repository revision as the tree API lists it.</summary>
/// <param name="Path">Path inside the repository, with '/' separators.</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="Oid">Git blob id (SHA-1 of <c>"blob {size}\0" + content</c>).</param>
/// <param name="Sha256">SHA-256 of the content for files stored in Git LFS, else null.</param>
public sealed record HubFile(string Path, long Size, string Oid, string? Sha256)
{
    /// <summary>The file's name in the cache: its SHA-256 for LFS files, else its git blob id.</summary>
    public string BlobName => Sha256 ?? Oid;
}

/// <summary>A failed Hub request, with a message for the user; <see cref="IsUsageError"/> when the request itself was wrong (no access, no such repository).</summary>
public sealed class HubException : Exception
{
    public HubException(string message, bool isUsageError, Exception? inner = null) : base(message, inner) => IsUsageError = isUsageError;

    public bool IsUsageError { get; }
}
