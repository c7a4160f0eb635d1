using System.IO.Compression;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.Data;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.IO.Tokenizers;
using Microsoft.ML.Runtime;
using Microsoft.ML.Transforms;

namespace Microsoft.ML.NEFTune;

/// <summary>
/// Saves and loads ML.NET pipelines that contain <see cref="NeftuneInstructionTuningTransformer"/> steps, weights included,
/// as one file.
/// </summary>
/// <remarks>
/// <para>The file is an ML.NET model zip: the pipeline's ML.NET part, in which each NEFTune step is a custom-mapping
/// placeholder under the contract <c>Microsoft.ML.NEFTune.InstructionTuning.v1</c>, plus a <c>NEFTune/</c> folder with a
/// manifest and, for each step, the tuned model in the Hugging Face layout (<c>config.json</c>, <c>model.safetensors</c>,
/// tokenizer files) and its settings (<c>neftune.json</c>). <see cref="Load"/> rebuilds the real transformers.</para>
/// <para><c>MLContext.Model.Save</c> cannot write such a pipeline (ML.NET model files have no public way to carry other
/// components' weights) and throws, naming this class.</para>
/// </remarks>
/// <example>
/// <code>
/// var model = pipeline.Fit(trainData);
/// NeftuneModel.Save(mlContext, model, trainData.Schema, "assistant.zip");
/// var loaded = NeftuneModel.Load(mlContext, "assistant.zip", out var inputSchema);
/// var engine = mlContext.Model.CreatePredictionEngine&lt;Row, Prediction&gt;(loaded);
/// </code>
/// </example>
public static class NeftuneModel
{
    private const string Folder = "NEFTune/";
    private const string ManifestName = Folder + "manifest.json";
    private const string Format = "Microsoft.ML.NEFTune.Model";
    private const int FormatVersion = 1;

    /// <summary>
    /// Writes <paramref name="model"/> (a transformer chain or a single transformer, with any number of NEFTune steps)
    /// and <paramref name="inputSchema"/> to one file. The file is written under a temporary name and renamed, so a
    /// failure leaves any earlier file at <paramref name="path"/> untouched.
    /// </summary>
    /// <param name="mlContext">The ML.NET context.</param>
    /// <param name="model">The fitted pipeline, for example the result of <c>pipeline.Fit(data)</c>.</param>
    /// <param name="inputSchema">Schema of the data the pipeline takes, usually <c>data.Schema</c>.</param>
    /// <param name="path">File to write, conventionally <c>.zip</c>; replaced when it exists.</param>
    public static void Save(MLContext mlContext, ITransformer model, DataViewSchema inputSchema, string path)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputSchema);
        ArgumentException.ThrowIfNullOrEmpty(path);

        var steps = new List<NeftuneInstructionTuningTransformer>();
        ITransformer? placeholder = null;
        var withPlaceholders = Replace(model, t => t is NeftuneInstructionTuningTransformer step ? Register(step) : null);
        ITransformer Register(NeftuneInstructionTuningTransformer step)
        {
            step.ThrowIfDisposed();
            steps.Add(step);
            return placeholder ??= CreatePlaceholder(mlContext);
        }

        byte[] mlnetPart;
        using (var buffer = new MemoryStream())
        {
            mlContext.Model.Save(withPlaceholders, inputSchema, buffer);
            mlnetPart = buffer.ToArray();
        }

        var temp = Path.Combine(TempRoot(mlContext), "neftune-save-" + Guid.NewGuid().ToString("N"));
        try
        {
            var stepFolders = new List<string>();
            for (int i = 0; i < steps.Count; i++)
            {
                var folder = Path.Combine(temp, $"step-{i}");
                steps[i].SaveModel(folder);
                stepFolders.Add(folder);
            }
            var manifest = new JsonObject
            {
                ["format"] = Format,
                ["format_version"] = FormatVersion,
                ["library_version"] = typeof(NeftuneModel).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion,
                ["placeholder_contract"] = NeftunePlaceholderFactory.ContractName,
                ["steps"] = new JsonArray(Enumerable.Range(0, steps.Count).Select(i => (JsonNode)$"{Folder}step-{i}/").ToArray()),
            };

            AtomicFile.Write(path, stream =>
            {
                using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
                using (var source = new ZipArchive(new MemoryStream(mlnetPart), ZipArchiveMode.Read))
                {
                    foreach (var entry in source.Entries)
                    {
                        if (entry.FullName.StartsWith(Folder, StringComparison.Ordinal)) continue;
                        using var from = entry.Open();
                        using var to = zip.CreateEntry(entry.FullName, CompressionLevel.Optimal).Open();
                        from.CopyTo(to);
                    }
                }
                using (var writer = new StreamWriter(zip.CreateEntry(ManifestName, CompressionLevel.Optimal).Open()))
                    writer.Write(manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                for (int i = 0; i < stepFolders.Count; i++)
                {
                    foreach (var file in Directory.GetFiles(stepFolders[i]).OrderBy(f => f, StringComparer.Ordinal))
                    {
                        var name = Path.GetFileName(file);
                        var level = name.EndsWith(".safetensors", StringComparison.Ordinal) ? CompressionLevel.NoCompression : CompressionLevel.Optimal;
                        using var from = File.OpenRead(file);
                        using var to = zip.CreateEntry($"{Folder}step-{i}/{name}", level).Open();
                        from.CopyTo(to);
                    }
                }
            });
        }
        finally
        {
            TryDeleteDirectory(temp);
        }
    }

    /// <summary>
    /// Loads a pipeline written by <see cref="Save"/>, with each NEFTune step rebuilt from its weights; it generates the
    /// same text as the saved one. A plain ML.NET model file is loaded as <c>MLContext.Model.Load</c> would.
    /// </summary>
    /// <param name="mlContext">The ML.NET context.</param>
    /// <param name="path">File written by <see cref="Save"/>.</param>
    /// <param name="inputSchema">The input schema that was saved with the pipeline.</param>
    /// <returns>The pipeline; dispose it (or its NEFTune steps) to release the model weights.</returns>
    public static ITransformer Load(MLContext mlContext, string path, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Model file not found: {Path.GetFullPath(path)}", path);

        using var zip = ZipFile.OpenRead(path);
        var manifestEntry = zip.GetEntry(ManifestName);
        if (manifestEntry is null) return mlContext.Model.Load(path, out inputSchema);
        var steps = ReadManifest(manifestEntry, path);

        mlContext.ComponentCatalog.RegisterAssembly(typeof(NeftuneModel).Assembly);
        var loaded = mlContext.Model.Load(path, out inputSchema);
        var created = new List<NeftuneInstructionTuningTransformer>();
        try
        {
            int next = 0;
            var result = Replace(loaded, t =>
            {
                if (t is not CustomMappingTransformer<NeftunePlaceholderInput, NeftunePlaceholderOutput>) return null;
                if (next == steps.Count) throw new InvalidDataException($"{path}: the pipeline has more NEFTune steps than the manifest lists ({steps.Count}).");
                var step = LoadStep(mlContext, zip, steps[next++], path);
                created.Add(step);
                return step;
            });
            if (next != steps.Count)
                throw new InvalidDataException($"{path}: the manifest lists {steps.Count} NEFTune steps but the pipeline has {next}.");
            return result;
        }
        catch
        {
            foreach (var step in created) step.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Creates a transformer from a Hugging Face model folder, such as one written by
    /// <see cref="NeftuneInstructionTuningTransformer.SaveModel(string)"/> (its <c>neftune.json</c> gives the columns and
    /// decoding settings) or any Llama-family model with its tokenizer (then the defaults of
    /// <see cref="NeftuneInstructionTuningOptions"/> apply).
    /// </summary>
    /// <param name="mlContext">The ML.NET context; the model is loaded on <c>cuda:N</c> when its
    /// <see cref="MLContext.GpuDeviceId"/> is N (falling back to the CPU only when <see cref="MLContext.FallbackToCpu"/>
    /// is set), else on the CPU.</param>
    /// <param name="directory">The model folder.</param>
    /// <exception cref="InvalidOperationException">CUDA is asked for, not available, and falling back is not allowed.</exception>
    public static NeftuneInstructionTuningTransformer LoadTransformer(MLContext mlContext, string directory)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"Model directory not found: {Path.GetFullPath(directory)}");
        var settingsPath = Path.Combine(directory, NeftuneTransformerSettings.FileName);
        var settings = File.Exists(settingsPath)
            ? NeftuneTransformerSettings.FromJson(File.ReadAllText(settingsPath), settingsPath)
            : new NeftuneTransformerSettings();
        using (var channel = ((IHostEnvironment)mlContext).Register(nameof(NeftuneModel)).Start(nameof(LoadTransformer)))
            settings = settings with { Device = MLContextDevice.Resolve(mlContext, device: null, channel) };
        var tokenizer = TextTokenizer.Load(directory);
        if (settings.RequiresModelTemplate && Data.Templates.ModelPromptTemplate.FromTokenizer(tokenizer) is null)
            throw new InvalidDataException($"{settingsPath}: the transformer was tuned with the model's own chat template, but '{directory}' has none (no 'chat_template' in tokenizer_config.json, no {Data.Templates.ChatTemplate.JinjaFileName}).");
        var files = NeftuneInstructionTuningEstimator.ReadTokenizerFiles(tokenizer);
        var model = HuggingFaceCheckpoint.Load(directory, new ModelLoadOptions { Device = settings.Device });
        try
        {
            return new NeftuneInstructionTuningTransformer(model, tokenizer, files, settings, trainingResult: null);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A transformer from a Hugging Face Hub repository id (<c>owner/name</c>) or a local model folder: the id is resolved
    /// through the shared Hugging Face cache (<see cref="Hub.HuggingFaceHub.Snapshot"/>; <c>HF_HOME</c>,
    /// <c>HF_HUB_CACHE</c>, <c>HF_TOKEN</c>, and <c>HF_HUB_OFFLINE=1</c> for no network), then loaded as
    /// <see cref="LoadTransformer"/> does.
    /// </summary>
    /// <param name="mlContext">The ML.NET context (its GPU settings choose the device).</param>
    /// <param name="repoIdOrDirectory">A repository id such as <c>TinyLlama/TinyLlama-1.1B-Chat-v1.0</c>, or a model folder.</param>
    /// <param name="revision">Branch, tag or commit. Default <c>main</c>.</param>
    /// <param name="hubOptions">Cache folder, endpoint, token, offline mode and file patterns; null for the environment's.</param>
    public static NeftuneInstructionTuningTransformer FromPretrained(MLContext mlContext, string repoIdOrDirectory, string revision = "main", Hub.HuggingFaceHubOptions? hubOptions = null)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentException.ThrowIfNullOrEmpty(repoIdOrDirectory);
        return LoadTransformer(mlContext, Hub.HuggingFaceHub.ResolveModelPath(repoIdOrDirectory, revision, hubOptions));
    }

    private static List<string> ReadManifest(ZipArchiveEntry entry, string path)
    {
        JsonNode? manifest;
        try
        {
            using var reader = new StreamReader(entry.Open());
            manifest = JsonNode.Parse(reader.ReadToEnd());
        }
        catch (JsonException e) { throw new InvalidDataException($"{path}: invalid {ManifestName}: {e.Message}", e); }
        if (manifest?["format"]?.GetValue<string>() != Format)
            throw new InvalidDataException($"{path}: {ManifestName} is not a {Format} manifest.");
        int version = manifest["format_version"]?.GetValue<int>() ?? 0;
        if (version < 1 || version > FormatVersion)
            throw new InvalidDataException($"{path}: model format version {version} is not supported by this library (it reads 1 to {FormatVersion}); update Microsoft.ML.NEFTune.");
        return (manifest["steps"] as JsonArray ?? throw new InvalidDataException($"{path}: {ManifestName} lists no steps."))
            .Select(s => s?.GetValue<string>() ?? throw new InvalidDataException($"{path}: {ManifestName} has an empty step."))
            .ToList();
    }

    private static NeftuneInstructionTuningTransformer LoadStep(MLContext mlContext, ZipArchive zip, string prefix, string path)
    {
        if (!prefix.StartsWith(Folder, StringComparison.Ordinal) || !prefix.EndsWith('/') || prefix.Contains(".."))
            throw new InvalidDataException($"{path}: invalid NEFTune step folder '{prefix}'.");
        var temp = Path.Combine(TempRoot(mlContext), "neftune-load-" + Guid.NewGuid().ToString("N"));
        try
        {
            Directory.CreateDirectory(temp);
            int count = 0;
            foreach (var entry in zip.Entries)
            {
                if (!entry.FullName.StartsWith(prefix, StringComparison.Ordinal)) continue;
                var name = entry.FullName[prefix.Length..];
                if (name.Length == 0 || name.Contains('/') || name.Contains('\\') || name is "." or "..")
                    throw new InvalidDataException($"{path}: unexpected entry '{entry.FullName}' in a NEFTune step folder.");
                entry.ExtractToFile(Path.Combine(temp, name));
                count++;
            }
            if (count == 0) throw new InvalidDataException($"{path}: the NEFTune step folder '{prefix}' is missing.");
            return LoadTransformer(mlContext, temp);
        }
        finally
        {
            TryDeleteDirectory(temp);
        }
    }

    private static ITransformer CreatePlaceholder(MLContext mlContext) =>
        mlContext.Transforms.CustomMapping(new NeftunePlaceholderFactory().GetMapping(), NeftunePlaceholderFactory.ContractName)
            .Fit(mlContext.Data.LoadFromEnumerable(Array.Empty<NeftunePlaceholderInput>()));

    /// <summary>
    /// <paramref name="model"/> with each transformer for which <paramref name="replace"/> returns a value replaced,
    /// inside transformer chains too; chains without replacements are returned as they are.
    /// </summary>
    private static ITransformer Replace(ITransformer model, Func<ITransformer, ITransformer?> replace)
    {
        if (replace(model) is { } replaced) return replaced;
        if (!IsChain(model)) return model;
        var items = ((IEnumerable<ITransformer>)model).ToArray();
        var mapped = items.Select(t => Replace(t, replace)).ToArray();
        if (mapped.SequenceEqual(items, ReferenceEqualityComparer.Instance)) return model;
        var scopes = model.GetType().GetField("_scopes", BindingFlags.NonPublic | BindingFlags.Instance)?.GetValue(model) as TransformerScope[];
        return scopes is not null && scopes.Length == mapped.Length
            ? new TransformerChain<ITransformer>(mapped, scopes)
            : new TransformerChain<ITransformer>(mapped);
    }

    private static bool IsChain(ITransformer model) =>
        model.GetType() is { IsGenericType: true } type && type.GetGenericTypeDefinition() == typeof(TransformerChain<>);

    private static string TempRoot(MLContext mlContext) =>
        string.IsNullOrEmpty(mlContext.TempFilePath) ? Path.GetTempPath() : mlContext.TempFilePath;

    private static void TryDeleteDirectory(string path)
    {
        try { if (Directory.Exists(path)) Directory.Delete(path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
