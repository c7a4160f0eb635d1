using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.ML.NEFTune.Hub;
using Microsoft.ML.NEFTune.Tests.Cli;
using Microsoft.ML.NEFTune.Tests.MLNet;

namespace Microsoft.ML.NEFTune.Tests.Hub;

/// <summary>The library's Hub client against a fake Hub on the loopback address, and the huggingface_hub cache layout.</summary>
public sealed class HuggingFaceHubTests : IDisposable
{
    private const string Repo = "tiny-org/tiny-llama";
    private static readonly byte[] Config = Encoding.UTF8.GetBytes("{\"model_type\": \"llama\"}");
    private static readonly byte[] Weights = Enumerable.Range(0, 5000).Select(i => (byte)(i * 7)).ToArray();
    private readonly TempDirectory temp = new();
    private readonly FakeHub hub = new();

    public HuggingFaceHubTests()
    {
        hub.Add(Repo, "config.json", Config, lfs: false);
        hub.Add(Repo, "model.safetensors", Weights, lfs: true);
        hub.Add(Repo, "sub/notes.txt", Encoding.UTF8.GetBytes("notes"), lfs: false);
    }

    public void Dispose()
    {
        hub.Dispose();
        temp.Dispose();
    }

    private HuggingFaceHubOptions Options(bool? offline = null, string? endpoint = null) =>
        new() { CacheDirectory = temp["cache"], Endpoint = endpoint ?? hub.Endpoint, Offline = offline, Token = "", Retries = 0 };

    [Fact]
    public void ASnapshotIsLaidOutAsHuggingFaceHubLaysItOut()
    {
        var snapshot = HuggingFaceHub.Snapshot(Repo, "main", Options());

        var repoDir = Path.Combine(temp["cache"], "models--tiny-org--tiny-llama");
        var commit = FakeHub.Commit(Repo);
        Assert.Equal(Path.Combine(repoDir, "snapshots", commit), snapshot);
        Assert.Equal(commit, File.ReadAllText(Path.Combine(repoDir, "refs", "main")));
        Assert.Equal(Weights, File.ReadAllBytes(Path.Combine(repoDir, "blobs", FakeHub.Sha256(Weights))));
        Assert.Equal(Config, File.ReadAllBytes(Path.Combine(repoDir, "blobs", FakeHub.GitOid(Config))));
        var weights = new FileInfo(Path.Combine(snapshot, "model.safetensors"));
        Assert.Equal(Path.Combine("..", "..", "blobs", FakeHub.Sha256(Weights)), weights.LinkTarget);
        Assert.Equal(Path.Combine("..", "..", "..", "blobs", FakeHub.GitOid(Encoding.UTF8.GetBytes("notes"))), new FileInfo(Path.Combine(snapshot, "sub", "notes.txt")).LinkTarget);
        Assert.Equal(Weights, File.ReadAllBytes(weights.FullName));
    }

    [Fact]
    public void OfflineModeReadsTheCacheWithoutAnyRequest()
    {
        var online = HuggingFaceHub.Snapshot(Repo, "main", Options());
        hub.Requests.Clear();

        var offline = HuggingFaceHub.Snapshot(Repo, "main", Options(offline: true, endpoint: "http://127.0.0.1:9"));
        var byCommit = HuggingFaceHub.Snapshot(Repo, FakeHub.Commit(Repo), Options(offline: true, endpoint: "http://127.0.0.1:9"));

        Assert.Equal(online, offline);
        Assert.Equal(online, byCommit);
        Assert.Empty(hub.Requests);
        var e = Assert.Throws<HubException>(() => HuggingFaceHub.Snapshot("tiny-org/other", "main", Options(offline: true)));
        Assert.Contains("not in the Hugging Face cache", e.Message);
        Assert.Contains("HF_HUB_OFFLINE=1", e.Message);
        Assert.Empty(hub.Requests);
    }

    [Fact]
    public void ASecondSnapshotDownloadsNothingAndPatternsChooseFiles()
    {
        var snapshot = HuggingFaceHub.Snapshot(Repo, "main", Options() with { AllowPatterns = new[] { "*.json" } });
        Assert.True(File.Exists(Path.Combine(snapshot, "config.json")));
        Assert.False(File.Exists(Path.Combine(snapshot, "model.safetensors")));
        Assert.False(File.Exists(Path.Combine(snapshot, "sub", "notes.txt")));
        HuggingFaceHub.Snapshot(Repo, "main", Options());
        hub.Requests.Clear();

        HuggingFaceHub.Snapshot(Repo, "main", Options());

        Assert.DoesNotContain(hub.Requests, r => r.Contains("/resolve/", StringComparison.Ordinal));
    }

    [Fact]
    public void AnInterruptedDownloadResumesAndACorruptOneIsRefused()
    {
        hub.BreakOnce["model.safetensors"] = true;
        var broken = Assert.Throws<HubException>(() => HuggingFaceHub.Snapshot(Repo, "main", Options()));
        Assert.Contains("2500 of 5000 bytes are kept", broken.Message);
        var snapshot = HuggingFaceHub.Snapshot(Repo, "main", Options());
        Assert.Equal(Weights, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        Assert.Contains(hub.Requests, r => r.EndsWith($"/resolve/{FakeHub.Commit(Repo)}/model.safetensors bytes=2500-", StringComparison.Ordinal));

        hub.Add("tiny-org/bad", "model.safetensors", Weights, lfs: true);
        hub.Corrupt.Add("model.safetensors");
        var e = Assert.Throws<HubException>(() => HuggingFaceHub.Snapshot("tiny-org/bad", "main", Options()));
        Assert.Contains("sha256 mismatch", e.Message);
    }

    [Fact]
    public void AGatedOrMissingRepositoryGetsAMessageThatSaysWhy()
    {
        hub.Gated.Add(Repo);
        hub.GatedToken = "hf_right";

        var refused = Assert.Throws<HubException>(() => HuggingFaceHub.Snapshot(Repo, "main", Options()));
        Assert.Contains("401", refused.Message);
        Assert.Contains("HF_TOKEN", refused.Message);
        Assert.True(Directory.Exists(HuggingFaceHub.Snapshot(Repo, "main", Options() with { Token = "hf_right" })));

        var missing = Assert.Throws<HubException>(() => HuggingFaceHub.Snapshot("nobody/nothing", "main", Options()));
        Assert.Contains("404", missing.Message);
        var revision = Assert.Throws<HubException>(() => HuggingFaceHub.Snapshot(Repo, "v9", Options() with { Token = "hf_right" }));
        Assert.Contains("revision not found: v9", revision.Message);
    }

    [Fact]
    public void TheDefaultCacheFollowsHfHomeAndHfHubCache()
    {
        var variables = new Dictionary<string, string?> { ["HF_HOME"] = temp["home"] };
        using var _ = HubEnvironment.Use(variables);
        Assert.Equal(Path.Combine(temp["home"], "hub"), HuggingFaceCache.DefaultDirectory());
        variables["HF_HUB_CACHE"] = temp["hub-cache"];
        Assert.Equal(temp["hub-cache"], HuggingFaceCache.DefaultDirectory());
        variables["HF_HUB_OFFLINE"] = "1";
        Assert.True(HuggingFaceCache.IsOfflineMode());
        variables["HF_HUB_OFFLINE"] = "0";
        Assert.False(HuggingFaceCache.IsOfflineMode());
    }

    [Fact]
    public void FromPretrainedLoadsARepositoryAndThenWorksWithoutTheHub()
    {
        var local = MLNetTestData.CreateTinyModel(temp["tiny"], seed: 2);
        foreach (var file in Directory.GetFiles(local))
            hub.Add("tiny-org/chat", Path.GetFileName(file), File.ReadAllBytes(file), lfs: file.EndsWith(".safetensors", StringComparison.Ordinal));
        var ml = new MLContext(seed: 1);

        string online, offline;
        using (var first = NeftuneModel.FromPretrained(ml, "tiny-org/chat", hubOptions: Options()))
            online = first.Generate("Name a colour.");
        using (var reference = NeftuneModel.LoadTransformer(ml, local))
            Assert.Equal(reference.Generate("Name a colour."), online);
        hub.Requests.Clear();
        using (var second = NeftuneModel.FromPretrained(ml, "tiny-org/chat", hubOptions: Options(offline: true, endpoint: "http://127.0.0.1:9")))
            offline = second.Generate("Name a colour.");

        Assert.Equal(online, offline);
        Assert.Empty(hub.Requests);
    }

    [Fact]
    public void ARepositoryIdAsModelPathIsTakenFromTheCache()
    {
        HuggingFaceHub.Snapshot(Repo, "main", Options());
        hub.Requests.Clear();

        var resolved = HuggingFaceHub.ResolveModelPath(Repo, options: Options(endpoint: "http://127.0.0.1:9"));

        Assert.Equal(Path.Combine(temp["cache"], "models--tiny-org--tiny-llama", "snapshots", FakeHub.Commit(Repo)), resolved);
        Assert.Empty(hub.Requests);
        Assert.Equal(temp["cache"], HuggingFaceHub.ResolveModelPath(temp["cache"]));   // an existing path is kept
        var e = Assert.Throws<HubException>(() => HuggingFaceHub.ResolveModelPath("no-such/folder", options: Options(offline: true)));
        Assert.Contains("'no-such/folder' is no local file or folder", e.Message);
    }
}
