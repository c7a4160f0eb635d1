using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Microsoft.ML.NEFTune.Hub;

/// <summary>
/// Downloads repository files from the Hugging Face Hub (or a server that speaks its API): lists a revision with
/// <c>GET {endpoint}/api/models/{repo}/tree/{revision}?recursive=1</c> (following <c>Link: rel="next"</c> pages) and
/// fetches files from <c>{endpoint}/{repo}/resolve/{revision}/{path}</c>. Files land in a content-addressed cache
/// (<c>{cache}/models--owner--name/blobs/{sha256 or git oid}</c>); an interrupted download stays beside it as
/// <c>.incomplete</c> and continues with an HTTP Range request. Every file is checked against the Hub's metadata before
/// it enters the cache: SHA-256 for LFS files (the tree's <c>lfs.oid</c>, or the <c>X-Linked-Etag</c> header), the git
/// blob id for the others. <see cref="HuggingFaceHub"/> builds the rest of the <c>huggingface_hub</c> cache layout
/// (refs and snapshots) on top of it.
/// </summary>
public sealed class HubClient : IDisposable
{
    public const string DefaultEndpoint = "https://huggingface.co";
    private readonly HttpClient http;
    private readonly Uri endpoint;
    private readonly string? token;

    public HubClient(Uri endpoint, string? token, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        this.endpoint = endpoint.AbsoluteUri.EndsWith('/') ? endpoint : new Uri(endpoint.AbsoluteUri + "/");
        this.token = string.IsNullOrWhiteSpace(token) ? null : token.Trim();
        http = new HttpClient(handler ?? new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(30), AllowAutoRedirect = true, AutomaticDecompression = DecompressionMethods.None })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("neftune", typeof(HubClient).Assembly.GetName().Version?.ToString() ?? "0"));
    }

    /// <summary>Further attempts after a network failure or a server error (5xx, 429). Default 3.</summary>
    public int Retries { get; init; } = 3;

    /// <summary>Wait before retry <c>n</c> (1-based). Default 2^n seconds, at most 30.</summary>
    public Func<int, TimeSpan> RetryDelay { get; init; } = n => TimeSpan.FromSeconds(Math.Min(30, Math.Pow(2, n)));

    /// <summary>A read that delivers nothing for this long fails (and is retried). Default 60 s.</summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The files of a revision.</summary>
    public async Task<IReadOnlyList<HubFile>> ListFilesAsync(HubRepository repo, string revision, CancellationToken cancellationToken = default)
    {
        var files = new List<HubFile>();
        Uri? url = new(endpoint, $"{repo.ApiPath}/tree/{Uri.EscapeDataString(revision)}?recursive=1");
        while (url is not null)
        {
            var (body, next) = await WithRetries($"listing {repo}@{revision}", async ct =>
            {
                using var response = await SendAsync(url, null, ct);
                if (!response.IsSuccessStatusCode) throw await StatusError(response, repo, revision, null, ct);
                return (await response.Content.ReadAsStringAsync(ct), NextPage(response));
            }, cancellationToken);
            JsonArray entries;
            try
            {
                entries = JsonNode.Parse(body) as JsonArray ?? throw new JsonException("expected a JSON array");
            }
            catch (JsonException e)
            {
                throw new HubException($"{endpoint}: unexpected answer listing {repo}@{revision} ({e.Message}); is --endpoint a Hugging Face Hub?", false, e);
            }
            foreach (var entry in entries.OfType<JsonObject>())
            {
                if ((string?)entry["type"] != "file") continue;
                var path = (string?)entry["path"];
                var oid = (string?)entry["oid"];
                if (path is null || oid is null) continue;
                files.Add(new HubFile(path, entry["size"]?.GetValue<long>() ?? 0, oid, (string?)entry["lfs"]?["oid"]));
            }
            url = next;
        }
        return files;
    }

    /// <summary>
    /// The commit a revision (branch, tag or commit id) points to, from <c>GET {endpoint}/api/models/{repo}/revision/{revision}</c>
    /// (its <c>sha</c>); a full 40-digit commit id is returned as it is.
    /// </summary>
    public async Task<string> GetCommitAsync(HubRepository repo, string revision, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentException.ThrowIfNullOrEmpty(revision);
        if (HuggingFaceCache.IsCommit(revision)) return revision.ToLowerInvariant();
        var url = new Uri(endpoint, $"{repo.ApiPath}/revision/{Uri.EscapeDataString(revision)}");
        return await WithRetries($"resolving {repo}@{revision}", async ct =>
        {
            using var response = await SendAsync(url, null, ct);
            if (!response.IsSuccessStatusCode) throw await StatusError(response, repo, revision, null, ct);
            var body = await response.Content.ReadAsStringAsync(ct);
            string? sha = null;
            try { sha = (JsonNode.Parse(body) as JsonObject)?["sha"]?.GetValue<string>(); }
            catch (Exception e) when (e is JsonException or InvalidOperationException) { }
            if (sha is null || !HuggingFaceCache.IsCommit(sha))
                throw new HubException($"{endpoint}: unexpected answer resolving {repo}@{revision} (no commit id); is the endpoint a Hugging Face Hub?", false);
            return sha.ToLowerInvariant();
        }, cancellationToken);
    }

    /// <summary>
    /// Puts a file into the cache (downloading what is missing) and returns its path there; <paramref name="progress"/>
    /// receives the bytes present so far.
    /// </summary>
    public async Task<string> DownloadAsync(HubRepository repo, string revision, HubFile file, string cacheDirectory, Action<long>? progress = null,
        CancellationToken cancellationToken = default)
    {
        var blobs = Path.Combine(cacheDirectory, repo.CacheFolder, "blobs");
        Directory.CreateDirectory(blobs);
        var blob = Path.Combine(blobs, file.BlobName);
        if (File.Exists(blob) && new FileInfo(blob).Length == file.Size)
        {
            progress?.Invoke(file.Size);
            return blob;
        }
        var partial = blob + ".incomplete";
        string? linkedSha = null;
        await WithRetries($"downloading {file.Path}", async ct => { linkedSha = await FetchAsync(repo, revision, file, partial, progress, ct) ?? linkedSha; return 0; },
            cancellationToken, () => File.Exists(partial) ? $"; {new FileInfo(partial).Length} of {file.Size} bytes are kept in the cache, run the same command again to resume" : "");

        long length = new FileInfo(partial).Length;
        if (length != file.Size)
        {
            File.Delete(partial);
            throw new HubException($"{file.Path}: received {length} bytes where the Hub lists {file.Size}; the download was discarded, run the command again", false);
        }
        var expectedSha = file.Sha256 ?? linkedSha;
        string actual, expected, kind;
        if (expectedSha is not null) { kind = "sha256"; expected = expectedSha; actual = await Sha256Async(partial, cancellationToken); }
        else { kind = "git blob id"; expected = file.Oid; actual = await GitBlobIdAsync(partial, cancellationToken); }
        if (!string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
        {
            File.Delete(partial);
            throw new HubException($"{file.Path}: {kind} mismatch: the Hub says {expected}, the download has {actual}; it was discarded, run the command again", false);
        }
        File.Move(partial, blob, overwrite: true);
        return blob;
    }

    /// <summary>Appends the missing bytes of <paramref name="file"/> to <paramref name="partial"/>; returns the SHA-256 the server links to the file, if it names one.</summary>
    private async Task<string?> FetchAsync(HubRepository repo, string revision, HubFile file, string partial, Action<long>? progress, CancellationToken ct)
    {
        long have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
        if (have > file.Size) { File.Delete(partial); have = 0; }
        var url = new Uri(endpoint, $"{repo.ResolvePath}/{Uri.EscapeDataString(revision)}/{string.Join('/', file.Path.Split('/').Select(Uri.EscapeDataString))}");
        for (int attempt = 0; ; attempt++)
        {
            using var response = await SendAsync(url, have > 0 ? have : null, ct);
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && have > 0 && attempt == 0)
            {
                File.Delete(partial);
                have = 0;
                continue;
            }
            if (!response.IsSuccessStatusCode) throw await StatusError(response, repo, revision, file.Path, ct);
            var linked = LinkedSha256(response);
            bool append = response.StatusCode == HttpStatusCode.PartialContent && response.Content.Headers.ContentRange?.From == have;
            if (response.StatusCode == HttpStatusCode.PartialContent && !append)
            {
                if (attempt > 0) throw new HubException($"{file.Path}: the server answered a range request with the wrong range", false);
                File.Delete(partial);
                have = 0;
                continue;
            }
            if (!append) have = 0;
            progress?.Invoke(have);
            await using var target = new FileStream(partial, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
            await using var source = await response.Content.ReadAsStreamAsync(ct);
            var buffer = new byte[1 << 16];
            while (true)
            {
                int read;
                using (var idle = CancellationTokenSource.CreateLinkedTokenSource(ct))
                {
                    idle.CancelAfter(ReadTimeout);
                    try { read = await source.ReadAsync(buffer, idle.Token); }
                    catch (OperationCanceledException) when (!ct.IsCancellationRequested) { throw new TimeoutException($"no data for {ReadTimeout.TotalSeconds:F0} s"); }
                }
                if (read == 0) break;
                await target.WriteAsync(buffer.AsMemory(0, read), ct);
                have += read;
                progress?.Invoke(have);
            }
            return linked;
        }
    }

    private async Task<HttpResponseMessage> SendAsync(Uri url, long? from, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (from is long f) request.Headers.Range = new RangeHeaderValue(f, null);
        return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
    }

    private async Task<T> WithRetries<T>(string what, Func<CancellationToken, Task<T>> action, CancellationToken ct, Func<string>? suffix = null)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return await action(ct);
            }
            catch (Exception e) when (IsTransient(e, ct))
            {
                if (attempt >= Retries)
                {
                    var reason = e is RetryableStatusException s ? s.Message : $"network failure: {Innermost(e).Message}";
                    throw new HubException($"{what} from {endpoint.Host}: {reason}{(Retries > 0 ? $" (after {Retries + 1} attempts)" : "")}{suffix?.Invoke()}", false, e);
                }
                var delay = RetryDelay(attempt + 1);
                if (delay > TimeSpan.Zero) await Task.Delay(delay, ct);
            }
        }
    }

    private static bool IsTransient(Exception e, CancellationToken ct) =>
        !ct.IsCancellationRequested && e is RetryableStatusException or HttpRequestException { StatusCode: null } or IOException or TimeoutException
            or TaskCanceledException or System.Net.Sockets.SocketException;

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }

    private async Task<Exception> StatusError(HttpResponseMessage response, HubRepository repo, string revision, string? path, CancellationToken ct)
    {
        int code = (int)response.StatusCode;
        string? errorCode = Header(response, "X-Error-Code");
        string? message = Header(response, "X-Error-Message");
        if (message is null)
        {
            try
            {
                var body = await response.Content.ReadAsStringAsync(ct);
                message = (JsonNode.Parse(body) as JsonObject)?["error"]?.GetValue<string>();
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or HttpRequestException or IOException) { }
        }
        var detail = message is null ? "" : $": {message}";
        if (code >= 500 || code == 429) return new RetryableStatusException($"HTTP {code} {response.ReasonPhrase}{detail}");
        return code switch
        {
            401 when token is not null => new HubException($"{repo}: the token in HF_TOKEN was refused (401 Unauthorized{detail}); check that it is valid and can read this repository", true),
            401 => new HubException($"{repo}: authentication required (401 Unauthorized{detail}); the repository is gated or private, or does not exist: set HF_TOKEN to an access token that can read it", true),
            403 => new HubException($"{repo}: access forbidden (403 Forbidden{detail}); for a gated model, accept its terms on the Hub with the account whose token is in HF_TOKEN", true),
            404 when errorCode == "RevisionNotFound" => new HubException($"{repo}: revision not found: {revision} (404{detail})", true),
            404 when errorCode == "EntryNotFound" || (path is not null && errorCode != "RepoNotFound") => new HubException($"{repo}@{revision}: file not found: {path} (404{detail})", true),
            404 => new HubException($"{repo}: repository or revision not found: {repo}@{revision} (404{detail}); check the id, --revision and --repo-type", true),
            _ => new HubException($"{repo}: HTTP {code} {response.ReasonPhrase}{detail} for {response.RequestMessage?.RequestUri}", false),
        };
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    /// <summary>The SHA-256 in <c>X-Linked-Etag</c> (LFS files), without quotes or a weak prefix.</summary>
    private static string? LinkedSha256(HttpResponseMessage response)
    {
        var value = Header(response, "X-Linked-Etag");
        if (value is null) return null;
        value = value.Trim();
        if (value.StartsWith("W/", StringComparison.Ordinal)) value = value[2..];
        value = value.Trim('"');
        return value.Length == 64 && value.All(Uri.IsHexDigit) ? value.ToLowerInvariant() : null;
    }

    private static Uri? NextPage(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Link", out var links)) return null;
        foreach (var part in string.Join(',', links).Split(','))
        {
            var pieces = part.Split(';', StringSplitOptions.TrimEntries);
            if (pieces.Length > 1 && pieces.Skip(1).Any(p => p.Replace(" ", "") is "rel=\"next\"" or "rel=next") && pieces[0].StartsWith('<') && pieces[0].EndsWith('>'))
                return new Uri(response.RequestMessage!.RequestUri!, pieces[0][1..^1]);
        }
        return null;
    }

    public static async Task<string> Sha256Async(string path, CancellationToken ct)
    {
        await using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct));
    }

    /// <summary>Git's blob id: SHA-1 of <c>"blob {size}\0"</c> followed by the content.</summary>
    public static async Task<string> GitBlobIdAsync(string path, CancellationToken ct)
    {
        await using var stream = File.OpenRead(path);
        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        sha1.AppendData(Encoding.ASCII.GetBytes($"blob {stream.Length}\0"));
        var buffer = new byte[1 << 16];
        int read;
        while ((read = await stream.ReadAsync(buffer, ct)) > 0) sha1.AppendData(buffer, 0, read);
        return Convert.ToHexStringLower(sha1.GetHashAndReset());
    }

    public void Dispose() => http.Dispose();

    private sealed class RetryableStatusException(string message) : Exception(message);
}
