using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.IO.Tokenizers;
using Microsoft.ML.NEFTune.Modeling;

namespace Microsoft.ML.NEFTune.Cli;

/// <summary>Loading of the models and tokenizers named on the command line; problems become usage errors.</summary>
public static class CliInputs
{
    /// <summary>Standard tokenizer file names, in order of preference.</summary>
    public static readonly string[] TokenizerFileNames = { TextTokenizer.SentencePieceFileName, TextTokenizer.HuggingFaceFileName };

    /// <summary>JSON output: compact, non-ASCII text unescaped.</summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        WriteIndented = false,
    };

    /// <summary>The <c>--dtype auto|bf16|fp32</c> option of the commands that run a model without training it.</summary>
    public static Option<string> DTypeOption() => new Option<string>("--dtype")
    {
        Description = "Precision the model is held and computed in: auto = the checkpoint's torch_dtype (bfloat16 only on CPUs with fast bfloat16 products, else float32), bf16, or fp32.",
        DefaultValueFactory = _ => "auto",
        HelpName = "auto|bf16|fp32",
    }.AcceptOnlyFromAmong("auto", "bf16", "bfloat16", "fp32", "float32");

    /// <summary>Loads a Hugging Face model directory or a llama2.c <c>.bin</c> file in float32.</summary>
    public static LlamaForCausalLM LoadModel(string path, string option = "--model") => LoadModel(path, "fp32", null, out _, option);

    /// <summary>
    /// Loads a model in the dtype <paramref name="dtype"/> names (<c>auto</c>, <c>bf16</c>, <c>fp32</c>). When an
    /// automatic choice differs from the checkpoint's dtype, one line saying why goes to <paramref name="notes"/>.
    /// </summary>
    public static LlamaForCausalLM LoadModel(string path, string dtype, TextWriter? notes, out double loadSeconds, string option = "--model")
    {
        path = RequireModelPath(path, option);
        try
        {
            var options = new ModelLoadOptions { DType = ModelLoadOptions.ParseDType(dtype) };
            if (options.DType is null && ModelDirectory(path) is string dir && File.Exists(Path.Combine(dir, "config.json")))
            {
                var resolved = options.Resolve(LlamaConfig.Load(Path.Combine(dir, "config.json")).TorchDtype, CpuFeatures.FastBFloat16, out var note);
                if (note is not null) notes?.WriteLine("note: " + note);
                options = options with { DType = resolved };
            }
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var model = ModelLoader.Load(path, options);
            loadSeconds = clock.Elapsed.TotalSeconds;
            return model;
        }
        catch (Exception e) when (e is ModelFormatException)
        {
            throw new CliUsageException($"{option}: invalid model: {e.Message}", e);
        }
        catch (Exception e) when (CliErrors.IsInvalidInput(e))
        {
            throw new CliUsageException($"{option}: cannot load model {path}: {e.Message}", e);
        }
    }

    /// <summary>Returns <paramref name="path"/> when it exists; otherwise a usage error naming it.</summary>
    public static string RequireModelPath(string path, string option = "--model")
    {
        try { path = Hub.HuggingFaceHub.ResolveModelPath(path); }   // owner/name: the Hugging Face cache (downloads unless HF_HUB_OFFLINE=1)
        catch (Hub.HubException e) { throw new CliUsageException($"{option}: {e.Message}", e); }
        if (!File.Exists(path) && !Directory.Exists(path))
            throw new CliUsageException($"{option}: model not found: {path} (expected a Hugging Face model directory or a llama2.c .bin file)");
        return path;
    }

    /// <summary>Loads a tokenizer file, or the tokenizer in a directory.</summary>
    public static TextTokenizer LoadTokenizer(string path, string option = "--tokenizer")
    {
        if (File.Exists(path)) { }
        else if (Directory.Exists(path))
        {
            if (FindTokenizerFile(path) is null)
                throw new CliUsageException($"{option}: no {string.Join(" or ", TokenizerFileNames)} (or {Gpt2TokenizerFiles.VocabFileName} + {Gpt2TokenizerFiles.MergesFileName}) in {path}");
        }
        else throw new CliUsageException($"{option}: tokenizer not found: {path}");
        try
        {
            return TextTokenizer.Load(path);
        }
        catch (TokenizerFormatException e)
        {
            throw new CliUsageException($"{option}: {e.Message}", e);
        }
        catch (Exception e) when (CliErrors.IsInvalidInput(e))
        {
            throw new CliUsageException($"{option}: cannot load tokenizer {path}: {e.Message}", e);
        }
    }

    /// <summary>The tokenizer file of a model or tokenizer directory, or null.</summary>
    public static string? FindTokenizerFile(string directory) =>
        TokenizerFileNames.Select(n => Path.Combine(directory, n)).FirstOrDefault(File.Exists)
        ?? (Gpt2TokenizerFiles.Exist(directory) ? Path.Combine(directory, Gpt2TokenizerFiles.VocabFileName) : null);

    /// <summary>The directory of a Hugging Face model path (the directory or its <c>config.json</c>); null for other paths.</summary>
    public static string? ModelDirectory(string modelPath) =>
        Directory.Exists(modelPath) ? modelPath
        : Path.GetFileName(modelPath) == "config.json" ? Path.GetDirectoryName(Path.GetFullPath(modelPath))
        : null;

    /// <summary>The standard name of a tokenizer file, as <see cref="TextTokenizer.Load"/> reads it: <c>tokenizer.json</c> for <c>.json</c>, else <c>tokenizer.model</c>.</summary>
    public static string StandardTokenizerName(string file) =>
        string.Equals(Path.GetExtension(file), ".json", StringComparison.OrdinalIgnoreCase)
            ? TextTokenizer.HuggingFaceFileName
            : TextTokenizer.SentencePieceFileName;
}
