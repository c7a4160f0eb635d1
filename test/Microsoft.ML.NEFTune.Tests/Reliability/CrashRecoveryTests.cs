using System.Text.RegularExpressions;
using Microsoft.ML.NEFTune.Tests.Cli;
using Microsoft.ML.NEFTune.Training;
using Xunit.Abstractions;
using Microsoft.ML.NEFTune.IO;

namespace Microsoft.ML.NEFTune.Tests.Reliability;

/// <summary>
/// Crash-and-resume trials of <c>neftune train</c>: the run crashes at an exact planned point (<see cref="FaultInjection"/>: after a
/// given step, at the final evaluation, or right after its N-th temporary file or folder is created, in the middle of a checkpoint
/// or of the final model), or is interrupted with a real SIGINT or SIGTERM while a child process is paused after step 3. After each, what is
/// on disk is consistent, and resuming finishes with weights bit-identical to an uninterrupted run with the same seed. Nothing
/// here waits on time, a log line printed while training goes on, or a file watcher.
/// </summary>
public class CrashRecoveryTests(ITestOutputHelper output)
{
    private abstract record Trial(string Name);
    /// <summary>An in-process crash planned by <paramref name="Fault"/>; where it happened must match the regular expression <paramref name="Where"/>.</summary>
    private sealed record Crash(string Name, string Fault, string Where) : Trial(Name);
    private sealed record Interrupt(string Name, int AfterStep, int Signal) : Trial(Name);

    private static readonly Trial[] Trials =
    {
        new Crash("crash after step 1, before any checkpoint", "crash-after-step:1", "after step 1$"),
        new Crash("crash after step 3", "crash-after-step:3", "after step 3$"),
        new Crash("crash after step 5", "crash-after-step:5", "after step 5$"),
        new Crash("crash at the final evaluation", "crash-at-evaluation:6", "at the evaluation after step 6$"),
        new Crash("crash on the 1st temporary entry (the checkpoint-2 folder)", "crash-at-write:1", @"write 1 \(\S*/\.checkpoint-2\.\w+\.tmp\)"),
        new Crash("crash on the 3rd temporary entry (inside checkpoint-2)", "crash-at-write:3", @"write 3 \(\S*/\.checkpoint-2\.\w+\.tmp/\.\S+\.tmp\)"),
        new Crash("crash on the 10th temporary entry (inside checkpoint-4)", "crash-at-write:10", @"write 10 \(\S*/\.checkpoint-4\.\w+\.tmp/\.model\.safetensors\.\S+\.tmp\)"),
        new Crash("crash on the 26th temporary entry (the final model)", "crash-at-write:26", @"write 26 \(\S*/trial-\d+/\.generation_config\.json\.\S+\.tmp\)"),
        new Interrupt("SIGINT (Ctrl+C) to a child process paused after step 3", 3, ChildRun.SigInt),
        new Interrupt("SIGTERM (kill, docker stop) to a child process paused after step 3", 3, ChildRun.SigTerm),
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
        output.WriteLine($"crash-and-resume trials passed: {passed}/{Trials.Length}");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static string Execute(TrainingRun run, Trial trial, string outDir)
    {
        switch (trial)
        {
            case Crash c:
            {
                CliRunner.Result result;
                using (FaultInjection.Use(FaultInjection.Parse(c.Fault)!)) result = CliRunner.Run(run.Args(outDir));
                Assert.True(result.ExitCode == 1, $"exit code {result.ExitCode}: {result.Error}");
                var line = Assert.Single(result.ErrorLines);
                var where = Regex.Match(line, @"simulated crash (.*) \(SimulatedCrashException").Groups[1].Value;
                Assert.Matches(c.Where, where);
                Assert.False(File.Exists(Path.Combine(outDir, "model.safetensors")) && !c.Fault.StartsWith("crash-at-write", StringComparison.Ordinal),
                    "the final model was written before the crash");
                return "crash " + where;
            }
            case Interrupt s:
            {
                using var child = new ChildRun(run.Args(outDir), new Dictionary<string, string> { [FaultInjection.Variable] = $"pause-after-step:{s.AfterStep}" });
                child.WaitForErrorLine($"paused after step {s.AfterStep}");
                child.Signal(s.Signal);
                Assert.True(child.WaitForExit() == 1, $"exit code is not 1:\n{child.Output}\n{child.Error}");
                var summary = child.Output.Split('\n').Single(l => l.StartsWith("cancelled after ", StringComparison.Ordinal));
                Assert.StartsWith($"cancelled after {s.AfterStep} steps", summary);
                Assert.True(Directory.Exists(Path.Combine(outDir, $"checkpoint-{s.AfterStep}")), $"no checkpoint-{s.AfterStep} after '{summary}'");
                Assert.False(File.Exists(Path.Combine(outDir, "model.safetensors")));
                Assert.Empty(TrainingRun.Temporaries(outDir));
                return $"exit code 1, '{summary[..summary.IndexOf(':')]}', checkpoint-{s.AfterStep} written";
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(trial));
        }
    }
}
