using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Microsoft.ML.NEFTune.Benchmarks;

/// <summary>What the PyTorch peer reported, or why it could not run.</summary>
public sealed record PyTorchPeerResult
{
    public bool Available { get; init; }
    public string? Reason { get; init; }
    public string? Python { get; init; }
    public string? TorchVersion { get; init; }
    public int? Threads { get; init; }
    public int? InteropThreads { get; init; }
    public double? TokensPerSecond { get; init; }
    public double? StepSecondsMedian { get; init; }
    public double? FirstLoss { get; init; }
    public long? Parameters { get; init; }
    public string? Blas { get; init; }
    public IReadOnlyDictionary<string, string>? Environment { get; init; }

    public static PyTorchPeerResult Unavailable(string reason) => new() { Available = false, Reason = reason };
}

/// <summary>
/// Runs <c>eng/bench/pytorch_peer.py</c>, which trains the same model shape on the same token batches in PyTorch,
/// and reads the one JSON object it prints.
/// </summary>
public static class PyTorchPeer
{
    public const string ScriptName = "pytorch_peer.py";

    /// <summary>
    /// The peer script: <paramref name="explicitPath"/> if given, else <c>bench/pytorch_peer.py</c> beside the
    /// application, else <c>eng/bench/pytorch_peer.py</c> in the nearest parent folder of the application or of the
    /// current directory that has one; null when there is none.
    /// </summary>
    public static string? FindScript(string? explicitPath = null)
    {
        if (explicitPath is not null) return File.Exists(explicitPath) ? Path.GetFullPath(explicitPath) : null;
        var beside = Path.Combine(AppContext.BaseDirectory, "bench", ScriptName);
        if (File.Exists(beside)) return beside;
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "eng", "bench", ScriptName);
                if (File.Exists(candidate)) return candidate;
            }
        return null;
    }

    /// <summary>
    /// Trains <paramref name="steps"/> steps of <paramref name="data"/>'s shape on the batches the .NET trainer sees,
    /// the first <paramref name="warmup"/> untimed. Tries each interpreter in turn until one imports torch.
    /// </summary>
    /// <param name="data">Model shape and token batches, the same the .NET trainer sees.</param>
    /// <param name="steps">Optimizer steps to run, warmup included.</param>
    /// <param name="warmup">Leading steps left out of the timing.</param>
    /// <param name="threads">Torch intra-op threads of the peer.</param>
    /// <param name="script">The peer script; null = found as <see cref="FindScript"/> does.</param>
    /// <param name="pythons">Interpreters to try, in order.</param>
    /// <param name="timeout">Wall-clock limit of one peer process.</param>
    /// <param name="environment">Variables set for the peer, e.g. the allocator and OpenMP settings this process runs with.</param>
    public static PyTorchPeerResult Run(BenchmarkData data, int steps, int warmup, int threads, string? script, IReadOnlyList<string> pythons, TimeSpan timeout,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        if (script is null) return PyTorchPeerResult.Unavailable($"the peer script {ScriptName} was not found (looked beside the application and in eng/bench/ of its parent folders)");
        var tokensFile = Path.Combine(Path.GetTempPath(), $"neftune-bench-{Environment.ProcessId}-{Guid.NewGuid():N}.bin");
        try
        {
            var tokens = data.StepTokens(steps);
            using (var stream = File.Create(tokensFile))
            using (var writer = new BinaryWriter(stream))
                foreach (var t in tokens) writer.Write(t);
            var c = data.Shape.Config;
            var inv = CultureInfo.InvariantCulture;
            var arguments = new List<string>
            {
                script, "--tokens", tokensFile, "--steps", steps.ToString(inv), "--warmup", warmup.ToString(inv),
                "--batch", data.Shape.Batch.ToString(inv), "--seq", data.Shape.Sequence.ToString(inv), "--vocab", c.VocabSize.ToString(inv),
                "--dim", c.HiddenSize.ToString(inv), "--ffn", c.IntermediateSize.ToString(inv), "--layers", c.NumHiddenLayers.ToString(inv),
                "--heads", c.NumAttentionHeads.ToString(inv), "--kv-heads", c.NumKeyValueHeads.ToString(inv), "--eps", c.RmsNormEps.ToString("R", inv),
                "--rope-theta", c.RopeTheta.ToString("R", inv), "--threads", threads.ToString(inv),
            };
            var reasons = new List<string>();
            foreach (var python in pythons)
            {
                var result = RunOne(python, arguments, timeout, environment);
                if (result.Available) return result with { Environment = environment };
                reasons.Add($"{python}: {result.Reason}");
            }
            return PyTorchPeerResult.Unavailable(string.Join("; ", reasons));
        }
        finally
        {
            try { File.Delete(tokensFile); } catch (IOException) { }
        }
    }

    private static PyTorchPeerResult RunOne(string python, IReadOnlyList<string> arguments, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment)
    {
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        Process process;
        try { process = Process.Start(start) ?? throw new InvalidOperationException("no process"); }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return PyTorchPeerResult.Unavailable($"cannot start it ({e.Message})");
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                return PyTorchPeerResult.Unavailable($"timed out after {timeout.TotalSeconds:F0} s");
            }
            process.WaitForExit();
            var line = stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
            JsonObject? json = null;
            try { json = line is null ? null : JsonNode.Parse(line) as JsonObject; }
            catch (System.Text.Json.JsonException) { }
            if (json is null)
            {
                var err = stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
                return PyTorchPeerResult.Unavailable($"exit code {process.ExitCode}, no result{(err is null ? "" : $" ({err})")}");
            }
            if (json["available"]?.GetValue<bool>() != true)
                return PyTorchPeerResult.Unavailable(json["reason"]?.GetValue<string>() ?? "unavailable");
            return new PyTorchPeerResult
            {
                Available = true, Python = python,
                TorchVersion = json["torch_version"]?.GetValue<string>(),
                Threads = json["threads"]?.GetValue<int>(),
                InteropThreads = json["interop_threads"]?.GetValue<int>(),
                TokensPerSecond = json["tokens_per_s"]?.GetValue<double>(),
                StepSecondsMedian = json["step_seconds_median"]?.GetValue<double>(),
                FirstLoss = json["losses"] is JsonArray losses && losses.Count > 0 ? losses[0]!.GetValue<double>() : null,
                Parameters = json["parameters"]?.GetValue<long>(),
                Blas = json["blas"]?.GetValue<string>(),
            };
        }
    }
}
