using TorchSharp;
using System.Diagnostics;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Tests.Scale;

/// <summary>
/// A sharded bfloat16 checkpoint written by <c>eng/scale/make_checkpoint.py</c> (the generator of the 1B scale
/// fixtures, here at its small shape) loads shard by shard into bfloat16 parameters equal to the file's values.
/// </summary>
public class ShardedBFloat16LoadTests
{
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Microsoft.ML.NEFTune.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("repository root not found");
    }

    /// <summary>Runs the generator with a Python that has numpy (python3 on PATH, then /usr/bin/python3).</summary>
    private static void Generate(string output)
    {
        var script = Path.Combine(RepositoryRoot(), "eng", "scale", "make_checkpoint.py");
        var errors = new List<string>();
        foreach (var python in new[] { "python3", "/usr/bin/python3" })
        {
            var info = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { script, "--shape", "small", "--out", output, "--shard-mb", "0.1", "--seed", "3" }) info.ArgumentList.Add(a);
            try
            {
                using var process = Process.Start(info)!;
                var stderr = process.StandardError.ReadToEndAsync();
                process.StandardOutput.ReadToEnd();
                Assert.True(process.WaitForExit(120_000), $"{python} {script} did not finish within 120 s");
                if (process.ExitCode == 0) return;
                errors.Add($"{python}: exit {process.ExitCode}: {stderr.Result.Trim()}");
            }
            catch (System.ComponentModel.Win32Exception e) { errors.Add($"{python}: {e.Message}"); }
        }
        Assert.Fail("eng/scale/make_checkpoint.py needs a Python 3 with numpy (apt-get install python3-numpy): " + string.Join("; ", errors));
    }

    [Fact]
    public void ShardedBFloat16CheckpointLoadsInBFloat16WithTheFilesValues()
    {
        using var dir = new TempDirectory();
        Generate(dir.Path);
        Assert.True(Directory.GetFiles(dir.Path, "model-*.safetensors").Length >= 4, "the small checkpoint is cut into several shards");

        using var bf16 = HuggingFaceCheckpoint.Load(dir.Path, new ModelLoadOptions { DType = ScalarType.BFloat16 });
        using var fp32 = HuggingFaceCheckpoint.Load(dir.Path);
        Assert.All(bf16.parameters(), p => Assert.Equal(ScalarType.BFloat16, p.dtype));
        Assert.All(fp32.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        Assert.Equal(201_920, bf16.ParameterCount);

        var reference = fp32.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in bf16.named_parameters())
        {
            using var widened = p.to_type(ScalarType.Float32);
            Assert.True((widened - reference[name]).abs().max().ToDouble() == 0, $"{name}: the bfloat16 load differs from the file's values");
        }
        using var embed = reference["model.embed_tokens.weight"].std();
        Assert.InRange(embed.ToDouble(), 0.018, 0.022);                   // normal(0, 0.02) as written, not an initialisation

        using var ids = tensor(new long[] { 1, 7, 9, 4 }).view(1, 4);
        using var _ = no_grad();
        bf16.eval(); fp32.eval();
        using var a = bf16.forward(ids);
        using var b = fp32.forward(ids);
        Assert.Equal(ScalarType.BFloat16, a.dtype);
        double diff = (a.to_type(ScalarType.Float32) - b).abs().max().ToDouble();
        Assert.True(diff < 0.05, $"bfloat16 logits differ from float32 ones by {diff}");
    }
}
