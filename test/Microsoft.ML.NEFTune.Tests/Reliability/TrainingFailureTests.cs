using System.Diagnostics;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Noise;
using Microsoft.ML.NEFTune.Tests.Cli;
using Microsoft.ML.NEFTune.Tests.Training;
using Microsoft.ML.NEFTune.Training;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.Reliability;

/// <summary>
/// A run that cannot write (disk full, a path that cannot be created) or whose loss diverges stops with a message naming
/// the path or the step, and leaves the checkpoints it completed intact and loadable. Tests run as root, where file modes
/// do not block writes, so unwritable places are made otherwise: an output path under a regular file, a path under
/// <c>/proc</c>, the <c>/dev/full</c> device (every write fails with ENOSPC) and a 1 MiB tmpfs that fills up.
/// </summary>
public class TrainingFailureTests(ITestOutputHelper output)
{
    private static readonly TrainingOptions Fast = new()
    {
        LearningRate = 1e-3, BatchSize = 4, Epochs = 1, WarmupRatio = 0, Seed = 5, NoiseOffTrainSampleSize = 0, Noise = new NeftuneOptions { Alpha = 5 },
    };

    private static void AssertOneErrorLine(CliRunner.Result result, int exitCode, params string[] expected)
    {
        Assert.Equal(exitCode, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("neftune: error: ", line);
        foreach (var text in expected) Assert.Contains(text, line);
    }

    [Fact]
    public void OutputFolderUnderAFileIsReportedWithThePath()
    {
        using var run = new TrainingRun();
        File.WriteAllText(run["not-a-folder"], "");
        var outDir = Path.Combine(run["not-a-folder"], "out");
        var result = CliRunner.Run(run.Args(outDir));
        output.WriteLine(result.Error);
        AssertOneErrorLine(result, 1, run["not-a-folder"]);
    }

    [Fact]
    public void OutputFolderUnderProcIsReportedWithThePath()
    {
        using var run = new TrainingRun();
        var result = CliRunner.Run(run.Args("/proc/neftune-reliability/out"));
        output.WriteLine(result.Error);
        AssertOneErrorLine(result, 1, "/proc/neftune-reliability");
    }

    [Fact]
    public void FullDiskForTheMetricsFileIsReportedWithThePath()
    {
        using var run = new TrainingRun();
        var result = CliRunner.Run(run.Args(run["out"], "--metrics", "/dev/full"));
        output.WriteLine(result.Error);
        AssertOneErrorLine(result, 1, "/dev/full", "No space left on device");
    }

    [Fact]
    public void FullDiskDuringACheckpointKeepsTheEarlierOnesAndLeavesNoTemporaryFile()
    {
        using var temp = new TempDirectory();
        var mount = temp["small-disk"];
        Directory.CreateDirectory(mount);
        var mounted = Process.Start(new ProcessStartInfo("mount", new[] { "-t", "tmpfs", "-o", "size=1m", "tmpfs", mount }) { RedirectStandardError = true })!;
        Assert.True(mounted.WaitForExit(TimeSpan.FromMinutes(1)), "mount did not return within a minute");
        if (mounted.ExitCode != 0)
        {
            // A machine that cannot mount says so by setting the variable; otherwise a failed mount is a failure, not a pass.
            var why = $"could not mount a 1 MB tmpfs (needs root with CAP_SYS_ADMIN): {mounted.StandardError.ReadToEnd().Trim()}";
            Assert.True(Environment.GetEnvironmentVariable("NEFTUNE_TESTS_NO_MOUNT") == "1", why + "; set NEFTUNE_TESTS_NO_MOUNT=1 to skip this case on such a machine");
            output.WriteLine("SKIPPED (NEFTUNE_TESTS_NO_MOUNT=1): " + why);
            return;
        }
        try
        {
            using var model = TinyModels.Create(seed: 2);
            var data = TinyModels.PatternExamples(24, seed: 4);
            using var trainer = new NeftuneTrainer(model, data, null, Fast with { Epochs = 8, SaveSteps = 1, SaveTotalLimit = 0, OutputDirectory = mount });
            var e = Assert.Throws<IOException>(() => trainer.Train());
            output.WriteLine(e.Message);
            Assert.Contains(mount, e.Message);
            Assert.Contains("No space left on device", e.Message);
            Assert.Contains("checkpoint-", e.Message);
            Assert.Empty(TrainingRun.Temporaries(mount));
            long newest = TrainingRun.CheckConsistent(mount);
            Assert.True(newest >= 1, "no checkpoint fitted on the disk before it filled");
            output.WriteLine($"{CheckpointStore.List(mount).Count} checkpoints completed before the disk filled; all load");
        }
        finally
        {
            Assert.True(Process.Start("umount", new[] { mount })!.WaitForExit(TimeSpan.FromMinutes(1)), "umount did not return within a minute");
        }
    }

    [Fact]
    public void NanLossStopsAndTheLastGoodCheckpointLoadsAndResumesBitIdentically()
    {
        var data = TinyModels.PatternExamples(24, seed: 4);
        var options = Fast with { Epochs = 2, SaveSteps = 2, SaveTotalLimit = 0 };
        using var straightDir = new TempDirectory();
        using var brokenDir = new TempDirectory();

        using var straight = TinyModels.Create(seed: 2);
        using (var t = new NeftuneTrainer(straight, data, null, options with { OutputDirectory = straightDir.Path })) t.Train();

        using var broken = TinyModels.Create(seed: 2);
        TrainingDivergedException diverged;
        using (var t = new NeftuneTrainer(broken, data, null, options with { OutputDirectory = brokenDir.Path }))
        {
            // After step 5 is logged (checkpoint-4 is written), the weights turn to NaN: step 6 has a NaN loss.
            var poison = new TrainerTests.SyncProgress(p =>
            {
                if (p.Step != 5 || p.IsEvaluation) return;
                using var _ = no_grad();
                broken.Model.EmbeddingWeight.fill_(float.NaN);
            });
            diverged = Assert.Throws<TrainingDivergedException>(() => t.Train(poison));
        }
        output.WriteLine(diverged.Message);
        Assert.Equal(6, diverged.Step);
        Assert.Contains("NaN", diverged.Message);
        Assert.Equal(Path.Combine(brokenDir.Path, "checkpoint-4"), diverged.LastCheckpoint);
        Assert.Contains(diverged.LastCheckpoint!, diverged.Message);
        Assert.Equal(new[] { 2L, 4L }, CheckpointStore.List(brokenDir.Path).Select(c => c.Step));
        Assert.False(File.Exists(Path.Combine(brokenDir.Path, "model.safetensors")));
        Assert.Empty(TrainingRun.Temporaries(brokenDir.Path));
        TrainingRun.CheckConsistent(brokenDir.Path);
        Assert.All(TrainingRun.Weights(diverged.LastCheckpoint!), w => Assert.True(float.IsFinite(w)));

        using var resumed = TinyModels.Create(seed: 99);
        using (var t = new NeftuneTrainer(resumed, data, null, options with { OutputDirectory = brokenDir.Path }))
        {
            t.ResumeFrom(diverged.LastCheckpoint!);
            t.Train();
        }
        Assert.Equal(TrainingRun.Weights(straightDir.Path), TrainingRun.Weights(brokenDir.Path));
    }

    [Fact]
    public void DivergingCliRunExitsWithOneLineNamingTheLastGoodCheckpoint()
    {
        using var run = new TrainingRun();
        var args = TrainingRun.Set(TrainingRun.Set(TrainingRun.Set(run.Args(run["out"]), "--lr", "1e30"), "--max-grad-norm", "0"), "--save-steps", "1");
        var result = CliRunner.Run(args);
        output.WriteLine(result.Error);
        AssertOneErrorLine(result, 1, "Training diverged at step", "checkpoint-");
        var last = CheckpointStore.List(run["out"])[^1].Path;
        Assert.Contains(last, result.Error);
        Assert.All(TrainingRun.Weights(last), w => Assert.True(float.IsFinite(w)));
        TrainingRun.CheckConsistent(run["out"]);
        Assert.Empty(TrainingRun.Temporaries(run["out"]));
    }

    [Fact]
    public void TornMetricsLineFromACrashIsDroppedOnResume()
    {
        using var dir = new TempDirectory();
        var path = dir["metrics.jsonl"];
        File.WriteAllText(path, "{\"step\":1,\"train_loss\":2.5}\n{\"step\":2,\"train_loss\":2.4}\n{\"step\":3,\"tra");
        new MetricsLog(path).TruncateAfter(2);
        Assert.Equal(new[] { 1L, 2L }, MetricsLog.Read(path).Select(l => l["step"]!.GetValue<long>()));
    }

    [Fact]
    public void StaleTemporariesOfAKilledSaveAreRemovedAndCompleteFilesKept()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(Path.Combine(dir.Path, ".checkpoint-4.0123456789abcdef.tmp"));
        File.WriteAllText(Path.Combine(dir.Path, ".checkpoint-4.0123456789abcdef.tmp", "model.safetensors"), "half");
        File.WriteAllText(dir[".model.safetensors.4242.0123456789abcdef.tmp"], "half");
        File.WriteAllText(dir["model.safetensors"], "complete");
        CheckpointStore.RemoveStaleTemporaries(dir.Path);
        Assert.Empty(TrainingRun.Temporaries(dir.Path));
        Assert.Equal("complete", File.ReadAllText(dir["model.safetensors"]));
    }
}
