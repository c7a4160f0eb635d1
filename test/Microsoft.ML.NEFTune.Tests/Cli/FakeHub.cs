using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Microsoft.ML.NEFTune.Tests.Cli;

/// <summary>
/// A Hugging Face Hub stand-in on 127.0.0.1: <c>GET /api/models/{repo}/tree/{rev}?recursive=1</c> lists files (two per
/// page, linked with <c>Link: rel="next"</c>) and <c>GET /{repo}/resolve/{rev}/{path}</c> serves them with Range
/// support; LFS files carry <c>X-Linked-Etag</c> and are listed with <c>lfs.oid</c>. Unknown repositories answer 404
/// with <c>X-Error-Code: RepoNotFound</c>; gated ones answer 401 without the right bearer token.
/// <c>GET /api/models/{repo}/revision/{rev}</c> gives the one commit (<see cref="Commit"/>), which every file request
/// accepts as a revision as well as <c>main</c>.
/// </summary>
internal sealed class FakeHub : IDisposable
{
    private readonly TcpListener listener = new(IPAddress.Loopback, 0);   // port 0: the system picks a free port as it binds
    private readonly Dictionary<string, Dictionary<string, (byte[] Content, bool Lfs)>> repos = new();
    private readonly Task loop;

    public FakeHub()
    {
        listener.Start();
        Endpoint = $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/";
        loop = Task.Run(Serve);
    }

    public string Endpoint { get; }

    /// <summary>Requests seen, as "METHOD path?query [Range]".</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    /// <summary>Token a gated repository wants.</summary>
    public string? GatedToken { get; set; }
    public HashSet<string> Gated { get; } = new();

    /// <summary>Files whose next full response breaks off after half the bytes.</summary>
    public ConcurrentDictionary<string, bool> BreakOnce { get; } = new();

    /// <summary>Files served with other bytes than the listing's hashes describe.</summary>
    public HashSet<string> Corrupt { get; } = new();

    public void Add(string repo, string path, byte[] content, bool lfs)
    {
        if (!repos.TryGetValue(repo, out var files)) repos[repo] = files = new();
        files[path] = (content, lfs);
    }

    /// <summary>The commit every revision of <paramref name="repo"/> points to (the fake keeps one).</summary>
    public static string Commit(string repo) => Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes("commit of " + repo)));

    public static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    public static string GitOid(byte[] content) =>
        Convert.ToHexStringLower(SHA1.HashData(Encoding.ASCII.GetBytes($"blob {content.Length}\0").Concat(content).ToArray()));

    /// <summary>One request per connection (each response says <c>Connection: close</c>), served in arrival order.</summary>
    private async Task Serve()
    {
        while (true)
        {
            TcpClient client;
            try { client = await listener.AcceptTcpClientAsync(); }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException) { return; }
            using (client)
            {
                try
                {
                    var stream = client.GetStream();
                    if (Request.Read(stream) is { } request) Handle(request, new Response(stream));
                }
                catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException) { }
            }
        }
    }

    /// <summary>An HTTP/1.1 request line and headers (the requests here have no body).</summary>
    private sealed record Request(string Method, string PathAndQuery, Dictionary<string, string> Headers)
    {
        public string Path => PathAndQuery.Split('?')[0];

        public string? Query(string name) => PathAndQuery.Split('?', 2) is [_, var query]
            ? query.Split('&').Select(p => p.Split('=', 2)).Where(p => p[0] == name).Select(p => p.Length > 1 ? Uri.UnescapeDataString(p[1]) : "").FirstOrDefault()
            : null;

        public static Request? Read(Stream stream)
        {
            var lines = new List<string>();
            var line = new StringBuilder();
            int b;
            while ((b = stream.ReadByte()) >= 0)
            {
                if (b == '\n')
                {
                    var text = line.ToString().TrimEnd('\r');
                    if (text.Length == 0) break;
                    lines.Add(text);
                    line.Clear();
                }
                else line.Append((char)b);
            }
            if (lines.Count == 0) return null;
            var first = lines[0].Split(' ');
            var headers = lines.Skip(1).Select(l => l.Split(':', 2)).ToDictionary(h => h[0].Trim(), h => h[1].Trim(), StringComparer.OrdinalIgnoreCase);
            return new Request(first[0], first[1], headers);
        }
    }

    /// <summary>Status, headers and body written at once; <see cref="Abort"/> breaks off after part of the body.</summary>
    private sealed class Response(Stream stream)
    {
        private readonly List<(string Name, string Value)> headers = new();

        public void AddHeader(string name, string value) => headers.Add((name, value));

        public void Send(int status, byte[] body, string type, int? cutAfter = null)
        {
            var head = new StringBuilder($"HTTP/1.1 {status} {(status < 300 ? "OK" : "Error")}\r\n");
            foreach (var (name, value) in headers.Append(("Content-Type", type)).Append(("Content-Length", body.Length.ToString())).Append(("Connection", "close")))
                head.Append($"{name}: {value}\r\n");
            head.Append("\r\n");
            stream.Write(Encoding.ASCII.GetBytes(head.ToString()));
            stream.Write(body, 0, cutAfter ?? body.Length);
            stream.Flush();
        }
    }

    private void Handle(Request request, Response response)
    {
        var path = Uri.UnescapeDataString(request.Path.TrimStart('/'));
        Requests.Enqueue($"{request.Method} {request.PathAndQuery}{(request.Headers.GetValueOrDefault("Range") is string range ? " " + range : "")}");
        string repo;
        string rest;
        if (path.StartsWith("api/models/") && path.Contains("/revision/"))
        {
            var parts = path["api/models/".Length..].Split("/revision/", 2);
            repo = parts[0];
            if (!Authorised(repo, request, response)) return;
            if (!repos.ContainsKey(repo)) { NotFound(response, "RepoNotFound", "Repository not found"); return; }
            if (parts[1] != "main" && parts[1] != Commit(repo)) { NotFound(response, "RevisionNotFound", $"Invalid rev id: {parts[1]}"); return; }
            Write(response, 200, Encoding.UTF8.GetBytes(new JsonObject { ["id"] = repo, ["sha"] = Commit(repo) }.ToJsonString()), "application/json");
            return;
        }
        if (path.StartsWith("api/models/"))
        {
            var parts = path["api/models/".Length..].Split("/tree/", 2);
            repo = parts[0];
            rest = parts.Length > 1 ? parts[1] : "";
            if (!Authorised(repo, request, response)) return;
            if (!repos.TryGetValue(repo, out var files)) { NotFound(response, "RepoNotFound", "Repository not found"); return; }
            if (rest != "main" && rest != Commit(repo)) { NotFound(response, "RevisionNotFound", $"Invalid rev id: {rest}"); return; }
            int page = int.TryParse(request.Query("page"), out var p) ? p : 0;
            var entries = files.OrderBy(f => f.Key, StringComparer.Ordinal).Skip(page * 2).Take(2).Select(f =>
            {
                var entry = new JsonObject { ["type"] = "file", ["oid"] = GitOid(f.Value.Content), ["size"] = f.Value.Content.Length, ["path"] = f.Key };
                if (f.Value.Lfs) entry["lfs"] = new JsonObject { ["oid"] = Sha256(f.Value.Content), ["size"] = f.Value.Content.Length, ["pointerSize"] = 134 };
                return (JsonNode)entry;
            }).ToList();
            if (page == 0 && files.Keys.Any(k => k.Contains('/'))) entries.Insert(0, new JsonObject { ["type"] = "directory", ["oid"] = "0", ["size"] = 0, ["path"] = "sub" });
            if ((page + 1) * 2 < files.Count) response.AddHeader("Link", $"<{Endpoint}api/models/{repo}/tree/main?recursive=1&page={page + 1}>; rel=\"next\"");
            Write(response, 200, Encoding.UTF8.GetBytes(new JsonArray(entries.ToArray()).ToJsonString()), "application/json");
            return;
        }
        var resolve = path.Split("/resolve/", 2);
        repo = resolve[0];
        if (!Authorised(repo, request, response)) return;
        if (resolve.Length < 2 || !repos.TryGetValue(repo, out var repoFiles)) { NotFound(response, "RepoNotFound", "Repository not found"); return; }
        var revAndPath = resolve[1].Split('/', 2);
        if (revAndPath[0] != "main" && revAndPath[0] != Commit(repo)) { NotFound(response, "RevisionNotFound", "Invalid rev id"); return; }
        if (!repoFiles.TryGetValue(revAndPath[1], out var file)) { NotFound(response, "EntryNotFound", "Entry not found"); return; }
        var content = Corrupt.Contains(revAndPath[1]) ? file.Content.Select(b => (byte)(b ^ 0xFF)).ToArray() : file.Content;
        response.AddHeader("ETag", "\"" + (file.Lfs ? Sha256(file.Content) : GitOid(file.Content)) + "\"");
        if (file.Lfs) response.AddHeader("X-Linked-Etag", "\"" + Sha256(file.Content) + "\"");
        long from = 0;
        if (request.Headers.GetValueOrDefault("Range") is string rangeHeader && rangeHeader.StartsWith("bytes=") && rangeHeader.EndsWith('-'))
            from = long.Parse(rangeHeader[6..^1]);
        if (from >= content.Length && from > 0) { Write(response, 416, Array.Empty<byte>(), "text/plain"); return; }
        if (from > 0) response.AddHeader("Content-Range", $"bytes {from}-{content.Length - 1}/{content.Length}");
        var body = content[(int)from..];
        if (from == 0 && BreakOnce.TryRemove(revAndPath[1], out _))
        {
            response.Send(200, body, "application/octet-stream", cutAfter: body.Length / 2);   // then the connection closes
            return;
        }
        Write(response, from > 0 ? 206 : 200, body, "application/octet-stream");
    }

    private bool Authorised(string repo, Request request, Response response)
    {
        if (!Gated.Contains(repo) || request.Headers.GetValueOrDefault("Authorization") == $"Bearer {GatedToken}") return true;
        response.AddHeader("X-Error-Code", "GatedRepo");
        response.AddHeader("X-Error-Message", $"Access to model {repo} is restricted. You must have access to it and be authenticated to access it. Please log in.");
        Write(response, 401, Array.Empty<byte>(), "text/plain");
        return false;
    }

    private static void NotFound(Response response, string code, string message)
    {
        response.AddHeader("X-Error-Code", code);
        response.AddHeader("X-Error-Message", message);
        Write(response, 404, Encoding.UTF8.GetBytes(new JsonObject { ["error"] = message }.ToJsonString()), "application/json");
    }

    private static void Write(Response response, int status, byte[] body, string type) => response.Send(status, body, type);

    public void Dispose()
    {
        listener.Stop();
        if (!loop.Wait(TimeSpan.FromSeconds(30))) throw new TimeoutException("the fake hub's accept loop did not end within 30 s of stopping the listener");
    }
}
