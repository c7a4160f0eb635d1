using Microsoft.ML.NEFTune.Data;
using System.Runtime.CompilerServices;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Modeling;
using Microsoft.ML.NEFTune.Quantization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Lora;

/// <summary>
/// LoRA adapters on a <see cref="LlamaForCausalLM"/>: attach them (optionally over an int8 or NF4 quantized frozen
/// base), merge them into plain weights, and save or load them in the Hugging Face PEFT layout.
/// </summary>
public static class LoraAdapters
{
    private sealed record State(LoraOptions Options, Generator DropoutGenerator);

    private static readonly ConditionalWeakTable<LlamaForCausalLM, State> States = new();

    /// <summary>
    /// Replaces each target projection of every decoder layer with a <see cref="LoraLinear"/> over it, stores all
    /// decoder projections quantized when <see cref="LoraOptions.QuantizeBase"/> asks for it, and freezes every
    /// other parameter (embeddings, norms, output head, base weights). Parameter names of the base are kept
    /// except that a wrapped projection's weight becomes <c>…q_proj.base_layer.weight</c> (PEFT's name).
    /// A's initialisation and the dropout masks are drawn from their own streams derived from <paramref name="seed"/>
    /// (<see cref="RandomStreams"/>), never from the NEFTune noise's.
    /// </summary>
    /// <returns>The adapter parameters (the only ones with <c>requires_grad</c>), in model order, A before B.</returns>
    public static IReadOnlyList<Parameter> Apply(LlamaForCausalLM model, LoraOptions options, long seed)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (HasAdapters(model)) throw new InvalidOperationException("The model already has LoRA adapters; merge them first or start from a fresh base.");
        var device = model.Model.EmbeddingWeight.device;
        var init = new Generator(unchecked((ulong)RandomStreams.LoraInitSeed(seed)));
        var dropout = new Generator(unchecked((ulong)RandomStreams.LoraDropoutSeed(seed)), device);
        var projections = Projections(model);
        var targets = TargetsFor(model, options.TargetModules);
        var missing = targets.FirstOrDefault(t => !projections.Any(p => p.Name == t));
        if (missing is not null)
            throw new ArgumentException($"LoRA target '{missing}' names no projection of this {model.Config.ModelType} model (its projections: {string.Join(", ", projections.Select(p => p.Name).Distinct())}).", nameof(options));
        foreach (var (_, parent, name, module) in projections)
        {
            var replacement = module;
            if (options.QuantizeBase != BaseQuantization.None && module is Linear linear)
                replacement = QuantizedLinear.Create(options.QuantizeBase, linear.weight!, linear.bias);
            if (targets.Contains(name))
                replacement = new LoraLinear(replacement, options.Rank, options.Alpha, options.Dropout, init, dropout);
            if (ReferenceEquals(replacement, module)) continue;
            replacement.train(model.training);
            ModuleReplacement.Replace(parent, name, module, replacement);
            if (replacement is QuantizedLinear || (replacement is LoraLinear l && l.BaseLayer is QuantizedLinear)) FreeLinear(module);
        }
        foreach (var (_, p) in model.named_parameters()) p.requires_grad = false;
        var adapters = AdapterParameters(model);
        foreach (var (_, p) in adapters) p.requires_grad = true;
        States.AddOrUpdate(model, new State(options with { TargetModules = targets }, dropout));
        return adapters.Select(a => a.Parameter).ToList();
    }

    /// <summary>True when the model holds LoRA adapters.</summary>
    public static bool HasAdapters(LlamaForCausalLM model) => Adapters(model).Count > 0;

    /// <summary>The adapters by module path (e.g. <c>model.layers.0.self_attn.q_proj</c>), in model order.</summary>
    public static IReadOnlyList<(string Path, LoraLinear Module)> Adapters(LlamaForCausalLM model) =>
        Projections(model).Where(p => p.Module is LoraLinear).Select(p => (p.Path, (LoraLinear)p.Module)).ToList();

    /// <summary>Adapter parameters with their model names (<c>…q_proj.lora_A.weight</c>, <c>…q_proj.lora_B.weight</c>).</summary>
    public static IReadOnlyList<(string Name, Parameter Parameter)> AdapterParameters(LlamaForCausalLM model) =>
        Adapters(model).SelectMany(a => new[] { ($"{a.Path}.lora_A.weight", a.Module.LoraA), ($"{a.Path}.lora_B.weight", a.Module.LoraB) }).ToList();

    /// <summary>The settings the adapters were created with, or null when the model has none.</summary>
    public static LoraOptions? OptionsOf(LlamaForCausalLM model)
    {
        if (States.TryGetValue(model, out var state) && HasAdapters(model)) return state.Options;
        var adapters = Adapters(model);
        if (adapters.Count == 0) return null;
        var first = adapters[0].Module;
        return new LoraOptions
        {
            Rank = first.Rank, Alpha = first.Alpha, Dropout = first.Dropout,
            TargetModules = LoraOptions.KnownProjections.Where(t => adapters.Any(a => a.Path.EndsWith("." + t))).ToArray(),
            QuantizeBase = first.BaseLayer is QuantizedLinear q ? q.Kind : BaseQuantization.None,
        };
    }

    /// <summary>The generator that draws the adapters' dropout masks (its state belongs in a training checkpoint), or null.</summary>
    public static Generator? DropoutGenerator(LlamaForCausalLM model) =>
        States.TryGetValue(model, out var state) && HasAdapters(model) ? state.DropoutGenerator : null;

    /// <summary>
    /// Folds every adapter into its base (<c>W + B·A·alpha/r</c>) and turns every quantized projection back into a
    /// plain <see cref="Linear"/> (dequantized), restoring the plain layout and HF names (<c>…q_proj.weight</c>).
    /// All parameters become trainable again, as in a freshly loaded model.
    /// </summary>
    public static void Merge(LlamaForCausalLM model)
    {
        ArgumentNullException.ThrowIfNull(model);
        foreach (var (_, parent, name, module) in Projections(model))
        {
            if (module is Linear) continue;
            var (weight, bias) = MergedWeights(module);
            var dtype = module is LoraLinear { BaseLayer: Linear b } ? b.weight!.dtype : ScalarType.Float32;
            var linear = nn.Linear(weight.shape[1], weight.shape[0], hasBias: bias is not null, device: weight.device, dtype: dtype);
            using (no_grad())
            {
                linear.weight!.copy_(weight);
                if (bias is not null) linear.bias!.copy_(bias);
            }
            weight.Dispose();
            linear.train(model.training);
            ModuleReplacement.Replace(parent, name, module, linear);
            module.Dispose();
        }
        foreach (var (_, p) in model.named_parameters()) p.requires_grad = true;
        States.Remove(model);
    }

    /// <summary>
    /// A new plain model holding the merged weights; the source keeps its adapters. It is built in the dtype of the
    /// checkpoint the base came from (<c>torch_dtype</c>: bfloat16 stays bfloat16), so merging a bfloat16 model's
    /// adapters never makes a float32 copy of it.
    /// </summary>
    public static LlamaForCausalLM MergedCopy(LlamaForCausalLM model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var device = model.Model.EmbeddingWeight.device;
        var dtype = model.Config.TorchDtype == "bfloat16" ? ScalarType.BFloat16 : ScalarType.Float32;
        var copy = new LlamaForCausalLM(model.Config, dtype);
        copy.to(device);
        var source = model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        var adapted = Projections(model).Where(p => p.Module is not Linear).ToDictionary(p => p.Path, p => p.Module);
        using (no_grad())
            foreach (var (name, p) in copy.named_parameters())
            {
                var path = name[..name.LastIndexOf('.')];
                if (adapted.TryGetValue(path, out var module))                 // merged one projection at a time
                {
                    var (weight, bias) = MergedWeights(module);
                    using (weight) p.copy_(name.EndsWith(".bias") ? bias ?? throw new InvalidOperationException($"No bias for '{name}'.") : weight);
                    continue;
                }
                p.copy_(source.TryGetValue(name, out var s) ? s : throw new InvalidOperationException($"No weight for '{name}' in the adapted model."));
            }
        copy.train(model.training);
        return copy;
    }

    /// <summary>Saves the merged model (base + adapters) in the Hugging Face layout; the source keeps its adapters.</summary>
    public static void SaveMerged(LlamaForCausalLM model, string directory, string? tokenizerDirectory = null)
    {
        using var copy = MergedCopy(model);
        HuggingFaceCheckpoint.Save(copy, directory, tokenizerDirectory);
    }

    /// <summary>
    /// Saves the adapters alone in the PEFT layout: <c>adapter_config.json</c> and <c>adapter_model.safetensors</c>
    /// with PEFT's names (<c>base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight</c>), each file atomically.
    /// </summary>
    public static void SaveAdapter(LlamaForCausalLM model, string directory, string? baseModelNameOrPath = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var options = OptionsOf(model) ?? throw new InvalidOperationException("The model has no LoRA adapters to save.");
        Directory.CreateDirectory(directory);
        var tensors = AdapterParameters(model).Select(p => KeyValuePair.Create(PeftAdapterConfig.TensorPrefix + p.Name, (Tensor)p.Parameter));
        SafetensorsFile.Save(Path.Combine(directory, PeftAdapterConfig.WeightsFileName), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        (PeftAdapterConfig.From(options) with { BaseModelNameOrPath = baseModelNameOrPath ?? options.BaseModelNameOrPath }).Save(directory);
    }

    /// <summary>
    /// Loads a PEFT LoRA adapter folder onto a base model: attaches adapters as its <c>adapter_config.json</c>
    /// describes (unless the model already has adapters of the same layout) and copies the saved weights.
    /// </summary>
    /// <returns>The adapter parameters.</returns>
    public static IReadOnlyList<Parameter> LoadAdapter(LlamaForCausalLM model, string directory, BaseQuantization quantizeBase = BaseQuantization.None, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        var config = PeftAdapterConfig.Load(directory);
        var options = config.ToOptions() with { QuantizeBase = quantizeBase };
        if (!HasAdapters(model)) Apply(model, options, seed);
        else
        {
            var current = OptionsOf(model)!;
            if (current.Rank != options.Rank || !current.TargetModules.OrderBy(t => t).SequenceEqual(options.TargetModules.OrderBy(t => t)))
                throw new InvalidOperationException($"The model's adapters (r={current.Rank}, {string.Join(",", current.TargetModules)}) do not match the saved ones (r={options.Rank}, {string.Join(",", options.TargetModules)}).");
        }
        LoadAdapterWeights(model, directory);
        return AdapterParameters(model).Select(p => p.Parameter).ToList();
    }

    /// <summary>Copies the tensors of <c>adapter_model.safetensors</c> into the model's adapters, checking names and shapes.</summary>
    public static void LoadAdapterWeights(LlamaForCausalLM model, string directory)
    {
        var path = Path.Combine(directory, PeftAdapterConfig.WeightsFileName);
        if (!File.Exists(path))
        {
            if (File.Exists(Path.Combine(directory, "adapter_model.bin")))
                throw new ModelFormatException(Path.Combine(directory, "adapter_model.bin"), "PyTorch pickle adapters are never loaded (unpickling runs code from the file); save the adapter with safe_serialization=True");
            throw new FileNotFoundException($"No {PeftAdapterConfig.WeightsFileName} in {directory}.", path);
        }
        var file = SafetensorsFile.Open(path);
        var parameters = AdapterParameters(model).ToDictionary(p => p.Name, p => p.Parameter);
        var keys = new Dictionary<string, string>();
        foreach (var key in file.Entries.Keys)
        {
            var name = NormalizeAdapterKey(key);
            if (!parameters.ContainsKey(name)) throw new ModelFormatException(path, $"unexpected tensor '{key}'; the adapter does not match the model");
            keys[name] = key;
        }
        var missing = parameters.Keys.FirstOrDefault(k => !keys.ContainsKey(k));
        if (missing is not null) throw new ModelFormatException(path, $"missing tensor '{PeftAdapterConfig.TensorPrefix + missing}'");
        using var _ = no_grad();
        foreach (var (name, p) in parameters)
        {
            using var value = file.Read(keys[name]);
            if (!value.shape.SequenceEqual(p.shape))
                throw new ModelFormatException(path, $"tensor '{keys[name]}' has shape [{string.Join(", ", value.shape)}] but the model's adapter is [{string.Join(", ", p.shape)}]");
            if (!value.is_floating_point()) throw new ModelFormatException(path, $"tensor '{keys[name]}' has dtype {value.dtype}; a floating-point dtype is required");
            p.copy_(value);
        }
    }

    private static string NormalizeAdapterKey(string key)
    {
        var name = key.StartsWith(PeftAdapterConfig.TensorPrefix, StringComparison.Ordinal) ? key[PeftAdapterConfig.TensorPrefix.Length..] : key;
        return name.Replace(".lora_A.default.weight", ".lora_A.weight").Replace(".lora_B.default.weight", ".lora_B.weight");
    }

    /// <summary>
    /// Gives <paramref name="target"/> (a plain model of the same config) the adapter layout of <paramref name="source"/>:
    /// adapters of the same shape, and quantized projections that share the source's storage. Dropout draws from the
    /// source's generator. Parameter names then match between the two models.
    /// </summary>
    internal static void MirrorLayout(LlamaForCausalLM target, LlamaForCausalLM source)
    {
        var sourceModules = Projections(source).ToDictionary(p => p.Path, p => p.Module);
        var dropout = DropoutGenerator(source);
        var unused = new Generator(0);                                    // A is overwritten from the source; keep the global RNG untouched
        foreach (var (path, parent, name, module) in Projections(target))
        {
            var original = sourceModules[path];
            nn.Module<Tensor, Tensor>? replacement = original switch
            {
                QuantizedLinear q => q.Share(),
                LoraLinear { BaseLayer: QuantizedLinear q } l => new LoraLinear(q.Share(), l.Rank, l.Alpha, l.Dropout, unused, dropout),
                LoraLinear l => new LoraLinear(module, l.Rank, l.Alpha, l.Dropout, unused, dropout),
                _ => null,
            };
            if (replacement is null) continue;
            replacement.train(target.training);
            ModuleReplacement.Replace(target.GetSubmoduleParent(path), name, module, replacement);
            if (original is QuantizedLinear or LoraLinear { BaseLayer: QuantizedLinear }) FreeLinear(module);
        }
        var sourceGrad = source.named_parameters().ToDictionary(p => p.name, p => p.parameter.requires_grad);
        foreach (var (name, p) in target.named_parameters()) p.requires_grad = sourceGrad.TryGetValue(name, out var g) && g;
        if (States.TryGetValue(source, out var state)) States.AddOrUpdate(target, state);
    }

    private static nn.Module GetSubmoduleParent(this LlamaForCausalLM model, string path)
    {
        var parentPath = path[..path.LastIndexOf('.')];
        return model.named_modules().First(m => m.name == parentPath).module;
    }

    private static (Tensor Weight, Tensor? Bias) MergedWeights(nn.Module<Tensor, Tensor> module) => module switch
    {
        LoraLinear l => (l.MergedWeight(), l.BaseBias),
        QuantizedLinear q => (q.Dequantize(ScalarType.Float32), q.Bias),
        Linear l => (l.weight!, l.bias),
        _ => throw new InvalidOperationException($"Unexpected projection module {module.GetType().Name}."),
    };

    /// <summary>
    /// Releases a replaced projection and its weight storage at once: the weight and bias tensors are disposed before
    /// the module, so a quantized base does not keep the floating-point weights alive until a garbage collection.
    /// </summary>
    private static void FreeLinear(nn.Module<Tensor, Tensor> module)
    {
        if (module is Linear linear)
        {
            linear.weight?.Dispose();
            linear.bias?.Dispose();
        }
        module.Dispose();
    }

    /// <summary>
    /// The model's own names for <paramref name="targets"/>: on OPT, <c>o_proj</c> is its <c>out_proj</c> and the
    /// Llama list <c>all</c> is OPT's six projections; other names are kept.
    /// </summary>
    private static IReadOnlyList<string> TargetsFor(LlamaForCausalLM model, IReadOnlyList<string> targets)
    {
        if (model.Config.Opt is null) return targets;
        if (targets.SequenceEqual(LoraOptions.AllProjections)) return new[] { "q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2" };
        return targets.Select(t => t == "o_proj" ? "out_proj" : t).Distinct().ToArray();
    }

    /// <summary>Every decoder projection slot: (path, parent module, slot name, current module).</summary>
    private static IEnumerable<(string Path, nn.Module Parent, string Name, nn.Module<Tensor, Tensor> Module)> Projections(LlamaForCausalLM model)
    {
        var list = new List<(string, nn.Module, string, nn.Module<Tensor, Tensor>)>();
        foreach (var (parentPath, parent) in model.named_modules())
        {
            if (parent is not (LlamaAttention or LlamaMLP or OptAttention or OptDecoderLayer)) continue;
            foreach (var (name, child) in parent.named_children())
                if (LoraOptions.KnownProjections.Contains(name) && child is nn.Module<Tensor, Tensor> projection)
                    list.Add(($"{parentPath}.{name}", parent, name, projection));
        }
        return list;
    }
}
