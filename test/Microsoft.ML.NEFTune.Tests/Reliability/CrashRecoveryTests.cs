using System.Diagnostics;
using Microsoft.ML.NEFTune.Tests.Cli;
using Xunit.Abstractions;

namespace Microsoft.ML.NEFTune.Tests.Reliability;

/// <summary>
/// Kill-and-resume trials of <c>neftune train</c> as a child process: killed when a given step is logged, killed the moment
/// a checkpoint or model file starts being written (crash consistency), and interrupted with SIGINT. After each, what is on
/// disk is consistent, and resuming finishes with weights bit-identical to an uninterrupted run with the same seed.
/// </summary>
public class CrashRecoveryTests(ITestOutputHelper output)
{
    private abstract record Trial(string Name);
    private sealed record KillAtStep(string Name, string Marker) : Trial(Name);
    private sealed record KillOnTemporary(string Name, int Event) : Trial(Name);
    private sealed record Interrupt(string Name, string Marker) : Trial(Name);

    private static readonly Trial[] Trials =
    {
        new KillAtStep("killed at step 1, before any checkpoint", "train step      1/6"),
        new KillAtStep("killed at step 3", "train step      3/6"),
        new KillAtStep("killed at step 5", "train step      5/6"),
        new KillAtStep("killed at the final evaluation", "eval  step      6/6"),
        new KillOnTemporary("killed on the 1st temporary entry (checkpoint-2 folder)", 1),
        new KillOnTemporary("killed on the 3rd temporary entry (inside checkpoint-2)", 3),
        new KillOnTemporary("killed on the 10th temporary entry (inside checkpoint-4)", 10),
        new KillOnTemporary("killed on the 26th temporary entry (the final model)", 26),
        new Interrupt("SIGINT (Ctrl+C) at step 3", "train step      3/6"),
    };

    [Fact]
    public void EveryInterruptedRunResumesToBitIdenticalWeights()
    {
        using var run = new TrainingRun();
        var straight = CliRunner.Run(run.Args(run["straight"]));
        Assert.True(straight.ExitCode == 0, straight.Error);
        Assert.Empty(TrainingRun.Temporaries(run["straight"]));
        var expected = TrainingRun.Weights(run["straight"]);

        int passed = 0;
        var failures = new List<string>();
        for (int i = 0; i < Trials.Length; i++)
        {
            var trial = Trials[i];
            var outDir = run[$"trial-{i}"];
            try
            {
                string detail = Execute(run, trial, outDir);
                long newest = TrainingRun.CheckConsistent(outDir);
                int leftover = TrainingRun.Temporaries(outDir).Length;
                var resumed = CliRunner.Run(newest > 0 ? run.Args(outDir, "--resume", outDir) : run.Args(outDir));
                Assert.True(resumed.ExitCode == 0, resumed.Error);
                Assert.Empty(TrainingRun.Temporaries(outDir));
                TrainingRun.CheckConsistent(outDir);
                Assert.Equal(expected, TrainingRun.Weights(outDir));
                passed++;
                output.WriteLine($"trial {i + 1} passed: {trial.Name}: {detail}; newest complete checkpoint {(newest > 0 ? $"checkpoint-{newest}" : "none")}, " +
                                 $"{leftover} temporary entries left by the crash and removed on resume; resumed weights bit-identical");
            }
            catch (Exception e)
            {
                failures.Add($"trial {i + 1} ({trial.Name}): {e.Message}");
                output.WriteLine($"trial {i + 1} FAILED: {trial.Name}: {e}");
            }
        }
        output.WriteLine($"kill-and-resume trials passed: {passed}/{Trials.Length}");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static string Execute(TrainingRun run, Trial trial, string outDir)
    {
        switch (trial)
        {
            case KillAtStep k:
            {
                using var process = TrainingRun.Start(run.Args(outDir));
                var line = TrainingRun.WaitForLine(process, k.Marker);
                TrainingRun.Kill(process);
                Assert.True(line is not null, $"the run ended before logging '{k.Marker}'");
                return $"killed after '{line!.Trim()[..Math.Min(line.Trim().Length, 40)]}'";
            }
            case KillOnTemporary t:
            {
                Directory.CreateDirectory(outDir);
                using var process = TrainingRun.Start(run.Args(outDir));
                int seen = 0;
                string? at = null;
                using var watcher = new FileSystemWatcher(outDir) { IncludeSubdirectories = true, Filter = "*.tmp", NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName };
                watcher.Created += (_, e) =>
                {
                    if (Interlocked.Increment(ref seen) != t.Event) return;
                    at = Path.GetRelativePath(outDir, e.FullPath);
                    try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                };
                watcher.EnableRaisingEvents = true;
                process.StandardOutput.ReadToEnd();
                process.WaitForExit();
                watcher.EnableRaisingEvents = false;
                return at is null ? $"ran to the end ({seen} temporary files seen)" : $"killed when {at} appeared";
            }
            case Interrupt s:
            {
                using var process = TrainingRun.Start(run.Args(outDir));
                Assert.NotNull(TrainingRun.WaitForLine(process, s.Marker));
                TrainingRun.Interrupt(process);
                var rest = process.StandardOutput.ReadToEnd();
                process.WaitForExit();
                Assert.Equal(1, process.ExitCode);
                var summary = rest.Split('\n').Single(l => l.StartsWith("cancelled after "));
                long steps = long.Parse(summary["cancelled after ".Length..].Split(' ')[0]);
                Assert.True(Directory.Exists(Path.Combine(outDir, $"checkpoint-{steps}")), $"no checkpoint-{steps} after '{summary}'");
                Assert.False(File.Exists(Path.Combine(outDir, "model.safetensors")));
                Assert.Empty(TrainingRun.Temporaries(outDir));
                return $"exit code 1, '{summary[..summary.IndexOf(':')]}', checkpoint-{steps} written";
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(trial));
        }
    }
}
