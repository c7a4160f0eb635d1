using System.CommandLine;
using System.Text.RegularExpressions;
using Microsoft.ML.NEFTune.Cli.Display;
using Microsoft.ML.NEFTune.Hub;
using Spectre.Console;
using Microsoft.ML.NEFTune.IO;

namespace Microsoft.ML.NEFTune.Cli.Commands;

using Command = System.CommandLine.Command;

/// <summary><c>neftune download</c>: fetch a model (or dataset) folder from the Hugging Face Hub.</summary>
public static class DownloadCommand
{
    public static Command Create(CliContext context)
    {
        var repo = new Argument<string>("REPO_ID") { Description = "Repository id on the Hub, e.g. TinyLlama/TinyLlama-1.1B-Chat-v1.0." };
        var revision = new Option<string>("--revision", "-r") { Description = "Branch, tag or commit.", DefaultValueFactory = _ => "main", HelpName = "REV" };
        var include = new Option<string[]>("--include", "-i") { Description = "Download only files whose path matches one of these globs (* matches any characters including '/', ? one character), e.g. \"*.json\" \"*.safetensors\" tokenizer.model. Default: every file.", HelpName = "GLOB", AllowMultipleArgumentsPerToken = true };
        var exclude = new Option<string[]>("--exclude", "-x") { Description = "Skip files whose path matches one of these globs.", HelpName = "GLOB", AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--out", "-o") { Description = "Folder to put the files in (created if needed), keeping the repository's layout.", Required = true, HelpName = "DIR" };
        var endpoint = new Option<string?>("--endpoint") { Description = $"Hub address. Default: $HF_ENDPOINT, else {HubClient.DefaultEndpoint}.", HelpName = "URL" };
        var cache = new Option<string?>("--cache") { Description = "Hugging Face cache, shared with Python's huggingface_hub (blobs, refs, snapshots; interrupted downloads resume from it). Default: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.", HelpName = "DIR" };
        var repoType = new Option<string>("--repo-type") { Description = "Repository type.", DefaultValueFactory = _ => HubRepository.Model }.AcceptOnlyFromAmong(HubRepository.Model, HubRepository.Dataset);
        var retries = new Option<int>("--retries") { Description = "Further attempts after a network failure or server error, each resuming where the last one stopped.", DefaultValueFactory = _ => 3, HelpName = "N" }.NonNegative();
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Print only the final summary." };
        var command = new Command("download", "Download a model folder from the Hugging Face Hub (HF_TOKEN for gated or private repositories), resumably and checked against the Hub's SHA-256 sums.");
        command.Arguments.Add(repo);
        foreach (var option in new Option[] { revision, include, exclude, output, endpoint, cache, repoType, retries, quiet }) command.Options.Add(option);
        context.SetAction(command, r =>
        {
            var id = r.GetValue(repo)!;
            if (!HubRepository.IsValidId(id)) throw new CliUsageException($"REPO_ID: '{id}' is not a repository id (expected owner/name, e.g. TinyLlama/TinyLlama-1.1B-Chat-v1.0)");
            var repository = new HubRepository(id, r.GetValue(repoType)!);
            var url = r.GetValue(endpoint) ?? HubEnvironment.Endpoint;
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http"))
                throw new CliUsageException($"--endpoint: '{url}' is not an http(s) address");
            var outDir = r.GetValue(output)!;
            if (File.Exists(outDir)) throw new CliUsageException($"--out: {outDir} is a file; give a folder");
            var cacheDir = r.GetValue(cache) ?? DefaultCache();
            var token = HubEnvironment.Token;
            var includes = (r.GetValue(include) ?? Array.Empty<string>()).SelectMany(SplitGlobs).ToArray();
            var excludes = (r.GetValue(exclude) ?? Array.Empty<string>()).SelectMany(SplitGlobs).ToArray();
            using var client = new HubClient(uri, token) { Retries = r.GetValue(retries) };
            using var cancel = new CliCancellation(context.Error);
            try
            {
                return Download(context, client, repository, r.GetValue(revision)!, includes, excludes, outDir, cacheDir, r.GetValue(quiet), cancel.Token)
                    .GetAwaiter().GetResult();
            }
            catch (HubException e) when (e.IsUsageError) { throw new CliUsageException(e.Message, e); }
            catch (HubException e) { return Failure(context, e.Message, e, r.GetValue(context.Verbose)); }
            catch (OperationCanceledException e) when (cancel.IsCancellationRequested)
            {
                return Failure(context, "download cancelled; run the same command again to resume", e, r.GetValue(context.Verbose));
            }
        });
        return command;
    }

    private static async Task<int> Download(CliContext context, HubClient client, HubRepository repo, string revision, string[] includes, string[] excludes,
        string outDir, string cacheDir, bool quiet, CancellationToken ct)
    {
        var commit = await client.GetCommitAsync(repo, revision, ct);
        var hfCache = new HuggingFaceCache(cacheDir);
        var all = await client.ListFilesAsync(repo, revision, ct);
        var files = all.Where(f => (includes.Length == 0 || includes.Any(g => Glob(g).IsMatch(f.Path))) && !excludes.Any(g => Glob(g).IsMatch(f.Path))).ToList();
        if (files.Count == 0)
            throw new CliUsageException(all.Count == 0
                ? $"{repo}@{revision} has no files"
                : $"no file of {repo}@{revision} matches {(includes.Length > 0 ? "--include " + string.Join(' ', includes) : "")}{(excludes.Length > 0 ? " --exclude " + string.Join(' ', excludes) : "")} (it has {all.Count}: {string.Join(", ", all.Take(8).Select(f => f.Path))}{(all.Count > 8 ? ", …" : "")})");
        foreach (var f in files)
            if (f.Path.Split('/').Any(p => p is "" or "." or "..") || Path.IsPathRooted(f.Path))
                throw new IOException($"{repo}: the Hub listed an unsafe file path '{f.Path}'");

        Directory.CreateDirectory(outDir);
        long total = files.Sum(f => f.Size);
        int fromCache = 0;
        bool live = !quiet && Terminal.IsInteractive(context.Out);
        if (!quiet)
            context.Out.WriteLine($"{repo}@{revision}: {files.Count} file{(files.Count == 1 ? "" : "s")}, {Terminal.Bytes(total)}");

        async Task One(HubFile file, Action<long>? progress)
        {
            var blobPath = Path.Combine(cacheDir, repo.CacheFolder, "blobs", file.BlobName);
            bool cached = File.Exists(blobPath) && new FileInfo(blobPath).Length == file.Size;
            var blob = await client.DownloadAsync(repo, revision, file, cacheDir, progress, ct);
            hfCache.Link(repo, commit, file.Path, blob);
            if (cached) fromCache++;
            Place(blob, Path.Combine(outDir, file.Path.Replace('/', Path.DirectorySeparatorChar)));
            if (!quiet && !live) context.Out.WriteLine($"  {(cached ? "cached    " : "downloaded")} {file.Path} ({Terminal.Bytes(file.Size)})");
        }

        if (live)
        {
            await Terminal.Console().Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(),
                    new TransferSpeedColumn(), new RemainingTimeColumn())
                .StartAsync(async ctx =>
                {
                    foreach (var file in files)
                    {
                        var task = ctx.AddTask(Markup.Escape(file.Path), maxValue: Math.Max(1, file.Size));
                        await One(file, bytes => task.Value = bytes);
                        task.Value = task.MaxValue;
                        task.StopTask();
                    }
                });
        }
        else
        {
            foreach (var file in files) await One(file, null);
        }
        hfCache.WriteRef(repo, revision, commit);
        context.Out.WriteLine($"downloaded {repo}@{revision}: {files.Count} file{(files.Count == 1 ? "" : "s")}, {Terminal.Bytes(total)}" +
            $"{(fromCache > 0 ? $" ({fromCache} from the cache)" : "")} into {Path.GetFullPath(outDir)}");
        return ExitCodes.Success;
    }

    private static int Failure(CliContext context, string message, Exception e, bool verbose)
    {
        CliErrors.Write(context.Error, message);
        if (verbose) context.Error.WriteLine(e.ToString());
        return ExitCodes.RuntimeFailure;
    }

    /// <summary>Copies a cached blob to its place in the output folder, unless the same file is already there.</summary>
    private static void Place(string blob, string target)
    {
        var source = new FileInfo(blob);
        var existing = new FileInfo(target);
        if (existing.Exists && existing.Length == source.Length && existing.LastWriteTimeUtc == source.LastWriteTimeUtc) return;
        AtomicFile.Copy(blob, target);
        File.SetLastWriteTimeUtc(target, source.LastWriteTimeUtc);
    }

    private static string DefaultCache() => HuggingFaceCache.DefaultDirectory();


    private static IEnumerable<string> SplitGlobs(string value) => value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>A shell-style glob as a regex over the whole path: * any characters (including '/'), ? one character, [...] a class.</summary>
    public static Regex Glob(string glob)
    {
        var pattern = new System.Text.StringBuilder("^");
        for (int i = 0; i < glob.Length; i++)
        {
            char c = glob[i];
            if (c == '*') pattern.Append(".*");
            else if (c == '?') pattern.Append('.');
            else if (c == '[' && glob.IndexOf(']', i + 1) is int end && end > i + 1)
            {
                var body = glob[(i + 1)..end];
                pattern.Append('[').Append(body.StartsWith('!') ? "^" + Regex.Escape(body[1..]) : Regex.Escape(body)).Append(']');
                i = end;
            }
            else pattern.Append(Regex.Escape(c.ToString()));
        }
        return new Regex(pattern.Append('$').ToString(), RegexOptions.CultureInvariant);
    }
}
