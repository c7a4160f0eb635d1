using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Noise;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Export;

/// <summary>
/// Writes what a Hugging Face TRL + <c>accelerate</c> run needs to continue a fine-tuning job on many GPUs:
/// <c>model/</c> (HF layout, tokenizer included), <c>adapter/</c> (PEFT, when given), <c>data/train.jsonl</c> and
/// <c>data/validation.jsonl</c> already templated (<c>prompt</c>/<c>completion</c>, or <c>messages</c> for
/// conversations), <c>sft_config.yaml</c> with the same hyperparameters, <c>accelerate/*.yaml</c> (single GPU,
/// multi-GPU, FSDP2, ZeRO-3), <c>lora.json</c> (PEFT <c>LoraConfig</c> fields, for a new adapter when the job uses LoRA),
/// <c>neftune.json</c> + <c>neftune_hook.py</c> (NEFTune with this library's per-sequence
/// semantics, not TRL's <c>neftune_noise_alpha</c>), <c>train.py</c> and a <c>README.md</c> with the launch command.
/// </summary>
public static class TrlRecipe
{
    /// <summary>The files written besides <c>model/</c>, <c>adapter/</c> and <c>data/</c>.</summary>
    public static readonly IReadOnlyList<string> ScriptFiles = new[] { "train.py", "neftune_hook.py", "neftune.json", "sft_config.yaml", "README.md" };

    public static void Write(TrlRecipeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var dir = options.OutputDirectory;
        Directory.CreateDirectory(dir);

        var tokenizer = FineTuning.LoadTokenizer(options.ModelPath, options.TokenizerPath);
        using (var model = HuggingFaceCheckpoint.Load(options.ModelPath))
            HuggingFaceCheckpoint.Save(model, Path.Combine(dir, "model"), FineTuning.TokenizerDirectory(tokenizer));
        if (options.AdapterPath is not null)
        {
            Directory.CreateDirectory(Path.Combine(dir, "adapter"));
            foreach (var file in Directory.GetFiles(options.AdapterPath))
                AtomicFile.Copy(file, Path.Combine(dir, "adapter", Path.GetFileName(file)));
        }

        var template = PromptTemplate.Resolve(options.Training.Template, tokenizer);
        Directory.CreateDirectory(Path.Combine(dir, "data"));
        AtomicFile.WriteAllText(Path.Combine(dir, "data", "train.jsonl"), Jsonl(DatasetReader.Read(options.DataPath, options.Format), template));
        if (options.ValidationDataPath is not null)
            AtomicFile.WriteAllText(Path.Combine(dir, "data", "validation.jsonl"), Jsonl(DatasetReader.Read(options.ValidationDataPath, options.Format), template));

        var noise = options.Training.Noise;
        AtomicFile.WriteAllText(Path.Combine(dir, "neftune.json"), new JsonObject
        {
            ["alpha"] = noise.Alpha,
            ["kind"] = noise.KindName,
            ["scaling"] = noise.Scaling == NeftuneScaling.PerSequence ? "per-sequence" : "padded-length",
        }.ToJsonString());
        AtomicFile.WriteAllText(Path.Combine(dir, "sft_config.yaml"), SftConfig(options));
        if (options.Training.Lora is { } lora && options.AdapterPath is null)      // a new adapter, as PEFT LoraConfig fields
            AtomicFile.WriteAllText(Path.Combine(dir, "lora.json"), new JsonObject
            {
                ["r"] = lora.Rank, ["lora_alpha"] = lora.Alpha, ["lora_dropout"] = lora.Dropout,
                ["target_modules"] = new JsonArray(lora.TargetModules.Select(m => (JsonNode)m).ToArray()), ["task_type"] = "CAUSAL_LM",
            }.ToJsonString());
        Directory.CreateDirectory(Path.Combine(dir, "accelerate"));
        foreach (var profile in Enum.GetValues<AccelerateProfile>())
            AtomicFile.WriteAllText(Path.Combine(dir, "accelerate", ProfileName(profile) + ".yaml"), AccelerateConfig(profile));
        AtomicFile.WriteAllText(Path.Combine(dir, "neftune_hook.py"), Resource("neftune_hook.py"));
        AtomicFile.WriteAllText(Path.Combine(dir, "train.py"), Resource("train.py").Replace("{profile}", ProfileName(options.Accelerate)));
        AtomicFile.WriteAllText(Path.Combine(dir, "README.md"), Readme(options));
    }

    /// <summary>
    /// The ML.NET side: writes the recipe for the job that <paramref name="options"/> describe (model, tokenizer and the
    /// settings the estimator would train with), on the records of <paramref name="dataPath"/> (any format the CLI reads;
    /// an <c>IDataView</c> cannot be templated outside a fit).
    /// </summary>
    /// <exception cref="ArgumentException">No <see cref="NeftuneInstructionTuningOptions.ModelPath"/>, or a setting the recipe cannot carry.</exception>
    public static void Write(NeftuneInstructionTuningOptions options, string dataPath, string outputDirectory,
        string? validationDataPath = null, AccelerateProfile accelerate = AccelerateProfile.SingleGpu)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.ModelPath))
            throw new ArgumentException("NeftuneInstructionTuningOptions.ModelPath is required to export a recipe.", nameof(options));
        Write(new TrlRecipeOptions
        {
            ModelPath = options.ModelPath, TokenizerPath = options.TokenizerPath, DataPath = dataPath, ValidationDataPath = validationDataPath,
            Training = options.Training, Accelerate = accelerate, OutputDirectory = outputDirectory,
        });
    }

    /// <summary><c>single-gpu</c>, <c>multi-gpu</c>, <c>fsdp2</c> or <c>zero3</c>.</summary>
    public static string ProfileName(AccelerateProfile profile) => profile switch
    {
        AccelerateProfile.SingleGpu => "single-gpu",
        AccelerateProfile.MultiGpu => "multi-gpu",
        AccelerateProfile.Fsdp2 => "fsdp2",
        AccelerateProfile.Zero3 => "zero3",
        _ => throw new ArgumentOutOfRangeException(nameof(profile)),
    };

    private static string Jsonl(Dataset data, PromptTemplate template)
    {
        var sb = new StringBuilder();
        foreach (var example in data.Examples.Where(e => e.HasResponse))
        {
            JsonObject line;
            if (example.IsConversation)
            {
                line = new JsonObject { ["messages"] = new JsonArray(example.ToMessages().Select(m => (JsonNode)new JsonObject
                {
                    ["role"] = m.Role.ToString().ToLowerInvariant(), ["content"] = m.Content,
                }).ToArray()) };
            }
            else
            {
                var segments = template.Render(example);
                line = new JsonObject
                {
                    ["prompt"] = string.Concat(segments.Where(s => !s.IsTarget).Select(s => s.Text)),
                    ["completion"] = string.Concat(segments.Where(s => s.IsTarget).Select(s => s.Text)),
                };
            }
            sb.Append(line.ToJsonString()).Append('\n');
        }
        foreach (var document in data.Documents) sb.Append(new JsonObject { ["text"] = document.Text }.ToJsonString()).Append('\n');
        return sb.ToString();
    }

    private static string SftConfig(TrlRecipeOptions o)
    {
        var t = o.Training;
        var inv = CultureInfo.InvariantCulture;
        string R(double v) => v.ToString("R", inv);
        var lines = new List<string>
        {
            "# The hyperparameters of the Microsoft.ML.NEFTune job, as TRL SFTConfig fields.",
            "# NEFTune is installed by neftune_hook.py (see neftune.json); TRL's own neftune_noise_alpha stays off.",
            "output_dir: output",
            $"learning_rate: {R(t.LearningRate)}",
            $"lr_scheduler_type: {t.Scheduler.ToString().ToLowerInvariant() switch { "constant" => "constant_with_warmup", var s => s }}",
            $"warmup_ratio: {R(t.WarmupRatio)}",
            $"weight_decay: {R(t.WeightDecay)}",
            $"adam_beta1: {R(t.AdamBeta1)}",
            $"adam_beta2: {R(t.AdamBeta2)}",
            $"adam_epsilon: {R(t.AdamEpsilon)}",
            $"max_grad_norm: {R(t.MaxGradNorm)}",
            $"num_train_epochs: {t.Epochs}",
            $"max_steps: {t.MaxSteps ?? -1}",
            $"per_device_train_batch_size: {t.BatchSize}",
            $"gradient_accumulation_steps: {t.GradientAccumulationSteps}",
            $"max_length: {t.MaxLength}",
            $"packing: {(t.PackingLength is null ? "false" : "true")}",
            $"padding_free: {(t.PackingLength is null ? "false" : "true")}",
            $"completion_only_loss: {(t.TrainOnPrompt ? "false" : "true")}",
            $"group_by_length: {(t.GroupByLength ? "true" : "false")}",
            $"bf16: {(t.BFloat16 ? "true" : "false")}",
            $"seed: {t.Seed}",
            $"logging_steps: {Math.Max(1, t.LoggingSteps)}",
            $"save_steps: {(t.SaveSteps > 0 ? t.SaveSteps : 500)}",
            $"save_total_limit: {t.SaveTotalLimit}",
            "neftune_noise_alpha: null",
            "save_safetensors: true",
            "report_to: none",
        };
        if (t.EvalSteps > 0 && o.ValidationDataPath is not null)
        {
            lines.Add("eval_strategy: steps");
            lines.Add($"eval_steps: {t.EvalSteps}");
        }
        return string.Join("\n", lines) + "\n";
    }

    private static string AccelerateConfig(AccelerateProfile profile) => profile switch
    {
        AccelerateProfile.SingleGpu => "compute_environment: LOCAL_MACHINE\ndistributed_type: 'NO'\nnum_machines: 1\nnum_processes: 1\nmixed_precision: bf16\n",
        AccelerateProfile.MultiGpu => "compute_environment: LOCAL_MACHINE\ndistributed_type: MULTI_GPU\nnum_machines: 1\nnum_processes: 8  # GPUs on this machine\nmixed_precision: bf16\n",
        AccelerateProfile.Fsdp2 => "compute_environment: LOCAL_MACHINE\ndistributed_type: FSDP\nnum_machines: 1\nnum_processes: 8  # GPUs per machine\nmixed_precision: bf16\n" +
            "fsdp_config:\n  fsdp_version: 2\n  fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP\n  fsdp_cpu_ram_efficient_loading: true\n  fsdp_offload_params: false\n  fsdp_reshard_after_forward: true\n  fsdp_state_dict_type: FULL_STATE_DICT\n",
        AccelerateProfile.Zero3 => "compute_environment: LOCAL_MACHINE\ndistributed_type: DEEPSPEED\nnum_machines: 1\nnum_processes: 8  # GPUs per machine\nmixed_precision: bf16\n" +
            "deepspeed_config:\n  zero_stage: 3\n  zero3_init_flag: true\n  zero3_save_16bit_model: true\n  offload_optimizer_device: none\n  offload_param_device: none\n",
        _ => throw new ArgumentOutOfRangeException(nameof(profile)),
    };

    private static string Readme(TrlRecipeOptions o)
    {
        var profile = ProfileName(o.Accelerate);
        var noise = o.Training.Noise;
        return $"""
            # Continue this fine-tuning with TRL + accelerate

            Exported by `neftune export-recipe`. `model/` is the model in Hugging Face layout{(o.AdapterPath is null ? "" : ", `adapter/` its PEFT LoRA adapter")},
            `data/` the examples already templated ({o.Training.Template}), `sft_config.yaml` the hyperparameters, `neftune.json` the noise
            (alpha {noise.Alpha.ToString("R", CultureInfo.InvariantCulture)}, {noise.KindName}, per-sequence length).

            ```bash
            pip install "trl>=0.19" "transformers>=4.46" accelerate peft pyyaml datasets
            accelerate launch --config_file accelerate/{profile}.yaml train.py
            ```

            Other profiles: `accelerate/single-gpu.yaml`, `multi-gpu.yaml` (DDP), `fsdp2.yaml` (FSDP2), `zero3.yaml`
            (DeepSpeed ZeRO-3); set `num_processes` to your GPU count.

            NEFTune: `neftune_hook.py` adds `U(-1,1)·alpha/sqrt(L·d)` (or the Gaussian kind) to the token embeddings in
            training mode only, with `L` each sequence's own number of real tokens (attention mask, or `position_ids` for
            padding-free batches) and no noise on padding — the NEFTune authors' and Microsoft.ML.NEFTune's semantics.
            TRL's `neftune_noise_alpha` is left off because it scales by the padded (or flattened) batch length.

            ## Bringing the result back

            The trained model is written to `output/` in Hugging Face layout (safetensors). Then:

            ```bash
            neftune eval --model output --data data.json --generate 32     # noise-off loss, perplexity, responses
            neftune chat --model output
            ```

            From .NET: `HuggingFaceCheckpoint.Load("output")` for the model, `NeftuneInstructionTuningOptions.ModelPath = "output"`
            to build an ML.NET pipeline on it (saved with `NeftuneModel.Save`, loaded with `NeftuneModel.Load`). A LoRA run
            saves the adapter: load it with `LoraAdapters.LoadAdapter(model, "output")` on the base in `model/`.

            """;
    }

    private static string Resource(string name)
    {
        using var stream = typeof(TrlRecipe).Assembly.GetManifestResourceStream("Microsoft.ML.NEFTune.Export.trl." + name)
            ?? throw new InvalidOperationException($"The resource {name} is missing from the library.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
