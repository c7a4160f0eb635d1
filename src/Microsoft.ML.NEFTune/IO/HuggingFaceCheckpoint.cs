using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.IO;

/// <summary>
/// Loads and saves models in the Hugging Face layout: <c>config.json</c>, <c>model.safetensors</c> (or shards with
/// <c>model.safetensors.index.json</c>), <c>generation_config.json</c> and the tokenizer files.
/// </summary>
public static class HuggingFaceCheckpoint
{
    /// <summary>Tokenizer files (and a chat template kept in its own file) copied along with a saved model.</summary>
    public static readonly string[] TokenizerFiles = { "tokenizer.model", "tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja" };

    public static LlamaForCausalLM Load(string directory, ModelLoadOptions? options = null)
    {
        options ??= ModelLoadOptions.Default;
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"Model directory not found: {directory}");
        var config = LlamaConfig.Load(Path.Combine(directory, "config.json"));
        config.GenerationConfig = ReadGenerationConfig(directory);
        var files = SafetensorsFiles(directory);
        var entries = new Dictionary<string, (SafetensorsFile File, string Key)>();   // by the model's parameter name
        foreach (var file in files)
            foreach (var key in file.Entries.Keys)
            {
                var name = config.Opt is null ? key : OptStateDict.CanonicalName(key);
                if (!entries.TryAdd(name, (file, key))) throw new ModelFormatException(file.Path, $"tensor '{key}' appears more than once (in another shard or under another key layout)");
            }
        StateDictLoader.CheckShapes(config, directory, entries.ToDictionary(e => e.Key, e => e.Value.File.Entries[e.Value.Key].Shape));
        var dtype = options.Resolve(config.TorchDtype, CpuFeatures.FastBFloat16, out _);
        var model = new LlamaForCausalLM(config, dtype);                      // parameters created in the final dtype
        StateDictLoader.Load(model, config, directory, entries.Keys, name => entries[name].File.Read(entries[name].Key), (name, p) => entries[name].File.TryReadInto(entries[name].Key, p));
        return Place(model, options with { DType = dtype });
    }

    internal static LlamaForCausalLM Place(LlamaForCausalLM model, ModelLoadOptions options)
    {
        string device;
        try { device = ComputeDevice.Require(options.Device, setting: nameof(ModelLoadOptions) + "." + nameof(ModelLoadOptions.Device)); }
        catch { model.Dispose(); throw; }
        model.to(options.DType ?? ScalarType.Float32).to(new Device(device));
        model.eval();
        return model;
    }

    private static List<SafetensorsFile> SafetensorsFiles(string directory)
    {
        var single = Path.Combine(directory, "model.safetensors");
        var index = Path.Combine(directory, "model.safetensors.index.json");
        if (File.Exists(single)) return new() { SafetensorsFile.Open(single) };
        if (File.Exists(index))
        {
            JsonObject map;
            try { map = StrictJson.Parse(File.ReadAllText(index))?["weight_map"] as JsonObject ?? throw new ModelFormatException(index, "missing 'weight_map'"); }
            catch (JsonException e) { throw new ModelFormatException(index, $"invalid JSON: {e.Message}"); }
            var shardNames = map.Select(kv => kv.Value is JsonValue v && v.TryGetValue<string>(out var file) && file.Length > 0 ? file : throw new ModelFormatException(index, $"'{kv.Key}' maps to no file name")).Distinct().ToList();
            var shards = new List<SafetensorsFile>();
            foreach (var shard in shardNames)
            {
                if (shard.Contains("..") || Path.IsPathRooted(shard)) throw new ModelFormatException(index, $"shard name '{shard}' points outside the model directory");
                shards.Add(SafetensorsFile.Open(Path.Combine(directory, shard)));
            }
            return shards;
        }
        var pickled = new[] { "pytorch_model.bin", "pytorch_model.bin.index.json", "consolidated.00.pth" }.FirstOrDefault(f => File.Exists(Path.Combine(directory, f)));
        if (pickled is not null)
            throw new ModelFormatException(Path.Combine(directory, pickled),
                "PyTorch pickle checkpoints are never loaded (unpickling runs code from the file). Convert it to safetensors first, e.g. " +
                "python -c \"from transformers import AutoModelForCausalLM as M; M.from_pretrained('DIR').save_pretrained('DIR', safe_serialization=True)\"");
        throw new ModelFormatException(directory, "no model.safetensors or model.safetensors.index.json found");
    }

    /// <summary><c>generation_config.json</c> of a checkpoint folder, or null when it has none.</summary>
    private static JsonObject? ReadGenerationConfig(string directory)
    {
        var path = Path.Combine(directory, "generation_config.json");
        if (!File.Exists(path)) return null;
        try { return StrictJson.Parse(File.ReadAllText(path)) as JsonObject ?? throw new ModelFormatException(path, "not a JSON object"); }
        catch (JsonException e) { throw new ModelFormatException(path, $"invalid JSON: {e.Message}"); }
    }

    /// <summary>The generation config <c>transformers</c> derives from a model config that comes without one.</summary>
    private static JsonObject DerivedGenerationConfig(LlamaConfig config)
    {
        var generation = new JsonObject { ["_from_model_config"] = true };
        if (config.BosTokenId is int bos) generation["bos_token_id"] = bos;
        generation["eos_token_id"] = config.EosTokenIds.Count == 1 ? JsonValue.Create(config.EosTokenIds[0]) : new JsonArray(config.EosTokenIds.Select(i => (JsonNode)i).ToArray());
        return generation;
    }

    /// <summary>
    /// Saves the model (float32 or its current dtype) in its family's layout (Phi-3's projections fused again), its
    /// config, its generation config (the checkpoint's own when it had one, see <see cref="LlamaConfig.GenerationConfig"/>) and the tokenizer files found in <paramref name="tokenizerDirectory"/>. Each file is
    /// written atomically.
    /// </summary>
    public static void Save(LlamaForCausalLM model, string directory, string? tokenizerDirectory = null)
    {
        Directory.CreateDirectory(directory);
        var tensors = model.named_parameters().Select(p => KeyValuePair.Create(p.name, (Tensor)p.parameter)).ToList();
        using var scope = NewDisposeScope();
        if (model.Config.FusedProjections) tensors = FusedProjections.Fuse(model.Config, tensors);   // Phi-3: qkv_proj, gate_up_proj
        var config = model.Config.Clone();
        config.TorchDtype = tensors[0].Value.dtype switch { ScalarType.BFloat16 => "bfloat16", ScalarType.Float16 => "float16", _ => "float32" };
        SafetensorsFile.Save(Path.Combine(directory, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        var generation = config.GenerationConfig ?? DerivedGenerationConfig(config);
        AtomicFile.WriteAllText(Path.Combine(directory, "generation_config.json"), generation.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        if (tokenizerDirectory is not null && Path.GetFullPath(tokenizerDirectory) != Path.GetFullPath(directory))
            foreach (var file in TokenizerFiles)
                if (File.Exists(Path.Combine(tokenizerDirectory, file)))
                    AtomicFile.Copy(Path.Combine(tokenizerDirectory, file), Path.Combine(directory, file));
        AtomicFile.WriteAllText(Path.Combine(directory, "config.json"), config.ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
