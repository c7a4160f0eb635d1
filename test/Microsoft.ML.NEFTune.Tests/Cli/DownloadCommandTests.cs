using Microsoft.ML.NEFTune.Hub;
using System.Net;
using System.Net.Sockets;

namespace Microsoft.ML.NEFTune.Tests.Cli;

public class DownloadCommandTests
{
    private const string Repo = "tiny-org/tiny-llama";
    private static readonly byte[] Config = "{\"model_type\":\"llama\",\"vocab_size\":32000}"u8.ToArray();
    private static readonly byte[] Weights = Enumerable.Range(0, 200_000).Select(i => (byte)(i * 7 % 251)).ToArray();
    private static readonly byte[] Readme = "# tiny\n"u8.ToArray();

    private static FakeHub Hub()
    {
        var hub = new FakeHub();
        hub.Add(Repo, "config.json", Config, lfs: false);
        hub.Add(Repo, "model.safetensors", Weights, lfs: true);
        hub.Add(Repo, "docs/README.md", Readme, lfs: false);
        return hub;
    }

    private static CliRunner.Result Download(FakeHub hub, TempDirectory dir, string output, params string[] extra) =>
        CliRunner.Run(new[] { "download", Repo, "--endpoint", hub.Endpoint, "--cache", dir["cache"], "--out", dir[output], "--retries", "0" }.Concat(extra).ToArray());

    [Fact]
    public void DownloadFetchesEveryFileOfTheRevisionIntoTheFolder()
    {
        using var hub = Hub();
        using var dir = new TempDirectory();

        var result = Download(hub, dir, "model");

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Equal(Config, File.ReadAllBytes(dir["model/config.json"]));
        Assert.Equal(Weights, File.ReadAllBytes(dir["model/model.safetensors"]));
        Assert.Equal(Readme, File.ReadAllBytes(Path.Combine(dir["model"], "docs", "README.md")));
        Assert.Contains($"downloaded {Repo}@main: 3 files", result.Out);
        Assert.Contains(hub.Requests, r => r.Contains("page=1"));                                   // followed the Link header
        Assert.True(File.Exists(Path.Combine(dir["cache"], "models--tiny-org--tiny-llama", "blobs", FakeHub.Sha256(Weights))));
    }

    [Fact]
    public void SecondDownloadComesFromTheCacheWithoutFetchingFiles()
    {
        using var hub = Hub();
        using var dir = new TempDirectory();
        Assert.Equal(0, Download(hub, dir, "first").ExitCode);
        hub.Requests.Clear();

        var result = Download(hub, dir, "second", "--include", "*.safetensors,config.json");

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.DoesNotContain(hub.Requests, r => r.Contains("/resolve/"));
        Assert.Contains("(2 from the cache)", result.Out);
        Assert.Equal(Weights, File.ReadAllBytes(dir["second/model.safetensors"]));
        Assert.False(Directory.Exists(Path.Combine(dir["second"], "docs")));
    }

    [Fact]
    public void InterruptedDownloadResumesWithARangeRequest()
    {
        using var hub = Hub();
        using var dir = new TempDirectory();
        hub.BreakOnce["model.safetensors"] = true;

        var broken = Download(hub, dir, "model", "--include", "model.safetensors");

        Assert.Equal(1, broken.ExitCode);
        var line = Assert.Single(broken.ErrorLines);
        Assert.Contains("model.safetensors", line);
        Assert.Contains("resume", line);
        Assert.False(File.Exists(dir["model/model.safetensors"]));

        var resumed = Download(hub, dir, "model", "--include", "model.safetensors");

        Assert.True(resumed.ExitCode == 0, resumed.Error);
        Assert.Contains(hub.Requests, r => r.EndsWith("/resolve/main/model.safetensors bytes=100000-"));
        Assert.Equal(Weights, File.ReadAllBytes(dir["model/model.safetensors"]));
    }

    [Fact]
    public void FileThatDoesNotMatchTheHubsSha256IsRejected()
    {
        using var hub = Hub();
        using var dir = new TempDirectory();
        hub.Corrupt.Add("model.safetensors");

        var result = Download(hub, dir, "model");

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.Contains("sha256 mismatch", line);
        Assert.Contains(FakeHub.Sha256(Weights), line);
        Assert.False(File.Exists(dir["model/model.safetensors"]));
        Assert.Empty(Directory.GetFiles(Path.Combine(dir["cache"], "models--tiny-org--tiny-llama", "blobs"), FakeHub.Sha256(Weights) + "*"));
    }

    [Fact]
    public void GatedRepositoryNeedsHfToken()
    {
        using var hub = Hub();
        using var dir = new TempDirectory();
        hub.Gated.Add(Repo);
        hub.GatedToken = "hf_test_token";
        using (HubEnvironment.Use(new Dictionary<string, string?>()))
        {
            var refused = Download(hub, dir, "model");
            Assert.Equal(2, refused.ExitCode);
            var line = Assert.Single(refused.ErrorLines);
            Assert.Contains("401", line);
            Assert.Contains("HF_TOKEN", line);
        }
        using (HubEnvironment.Use(new Dictionary<string, string?> { ["HF_TOKEN"] = "hf_test_token" }))
        {
            var allowed = Download(hub, dir, "model");
            Assert.True(allowed.ExitCode == 0, allowed.Error);
            Assert.Equal(Weights, File.ReadAllBytes(dir["model/model.safetensors"]));
        }
    }

    [Theory]
    [InlineData("nobody/nothing", "main", "repository or revision not found")]
    [InlineData(Repo, "v9", "revision not found: v9")]
    public void UnknownRepositoryOrRevisionIsAUsageError(string repo, string revision, string message)
    {
        using var hub = Hub();
        using var dir = new TempDirectory();

        var result = CliRunner.Run("download", repo, "--revision", revision, "--endpoint", hub.Endpoint, "--cache", dir["cache"], "--out", dir["m"]);

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.Contains(message, line);
        Assert.Contains("404", line);
    }

    [Fact]
    public void UnreachableHubIsARuntimeFailure()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        using var dir = new TempDirectory();

        var result = CliRunner.Run("download", Repo, "--endpoint", $"http://127.0.0.1:{port}", "--cache", dir["cache"], "--out", dir["m"], "--retries", "0");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("network failure", Assert.Single(result.ErrorLines));
    }

    [Theory]
    [InlineData("not a repo", "REPO_ID")]
    [InlineData("../etc", "REPO_ID")]
    public void MalformedRepositoryIdIsAUsageError(string repo, string named)
    {
        var result = CliRunner.Run("download", repo, "--out", "x", "--endpoint", "http://127.0.0.1:9");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(named, Assert.Single(result.ErrorLines));
    }

    [Fact]
    public void IncludeThatMatchesNothingIsAUsageErrorListingTheFiles()
    {
        using var hub = Hub();
        using var dir = new TempDirectory();

        var result = Download(hub, dir, "m", "--include", "*.bin");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("config.json", Assert.Single(result.ErrorLines));
    }
}
