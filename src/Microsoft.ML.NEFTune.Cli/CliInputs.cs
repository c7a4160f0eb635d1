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

    /// <summary>Loads a Hugging Face model directory or a llama2.c <c>.bin</c> file.</summary>
    public static LlamaForCausalLM LoadModel(string path, string option = "--model")
    {
        RequireModelPath(path, option);
        try
        {
            return ModelLoader.Load(path);
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
                throw new CliUsageException($"{option}: no {string.Join(" or ", TokenizerFileNames)} in {path}");
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
        TokenizerFileNames.Select(n => Path.Combine(directory, n)).FirstOrDefault(File.Exists);

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
