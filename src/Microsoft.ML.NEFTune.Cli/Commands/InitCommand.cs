using System.CommandLine;
using System.Globalization;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Modeling;

namespace Microsoft.ML.NEFTune.Cli.Commands;

using Command = System.CommandLine.Command;

/// <summary><c>neftune init</c>: a randomly initialised Llama model for a tokenizer, saved in the Hugging Face layout.</summary>
public static class InitCommand
{
    /// <summary>The default FFN width: 8/3 of the hidden size, rounded up to a multiple of 32.</summary>
    public static int DefaultIntermediateSize(int hiddenSize)
    {
        long size = (long)Math.Round(8.0 * hiddenSize / 3.0, MidpointRounding.AwayFromZero);
        return (int)Math.Min(int.MaxValue, (size + 31) / 32 * 32);
    }

    public const int DefaultHiddenSize = 288;
    public const int DefaultLayers = 6;
    public const int DefaultHeads = 6;
    public const int DefaultMaxPositionEmbeddings = 1024;

    public static Command Create(CliContext context)
    {
        var tokenizer = new Option<string>("--tokenizer", "-t")
        {
            Description = "Tokenizer file (tokenizer.model or tokenizer.json) or a directory holding one; sets the vocabulary size and BOS/EOS/PAD ids, and is copied into the output.",
            Required = true,
            HelpName = "PATH",
        };
        var hiddenSize = new Option<int>("--hidden-size")
        {
            Description = "Width of the residual stream (embedding size).",
            DefaultValueFactory = _ => DefaultHiddenSize,
            HelpName = "N",
        }.Positive();
        var layers = new Option<int>("--layers")
        {
            Description = "Number of decoder layers.",
            DefaultValueFactory = _ => DefaultLayers,
            HelpName = "N",
        }.Positive();
        var heads = new Option<int>("--heads")
        {
            Description = "Number of attention heads; must divide --hidden-size into an even head size.",
            DefaultValueFactory = _ => DefaultHeads,
            HelpName = "N",
        }.Positive();
        var kvHeads = new Option<int?>("--kv-heads")
        {
            Description = "Number of key/value heads (grouped-query attention); must divide --heads. Default: --heads.",
            HelpName = "N",
        }.Positive();
        var intermediateSize = new Option<int?>("--intermediate-size")
        {
            Description = "Width of the feed-forward layer. Default: 8/3 of --hidden-size rounded up to a multiple of 32 (768 for 288).",
            HelpName = "N",
        }.Positive();
        var maxPositions = new Option<int>("--max-position-embeddings")
        {
            Description = "Context window in tokens.",
            DefaultValueFactory = _ => DefaultMaxPositionEmbeddings,
            HelpName = "N",
        }.Positive();
        var tieEmbeddings = new Option<bool>("--tie-embeddings")
        {
            Description = "Share the output head with the token embedding: true or false. Default: true.",
            DefaultValueFactory = _ => true,
        };
        var seed = new Option<long>("--seed", "-s")
        {
            Description = "Seed of the weight initialisation.",
            Required = true,
            HelpName = "S",
        };
        var output = new Option<string>("--out", "-o")
        {
            Description = "Directory to write the model to (config.json, model.safetensors, generation_config.json, tokenizer).",
            Required = true,
            HelpName = "DIR",
        };
        var force = new Option<bool>("--force")
        {
            Description = "Overwrite a model already in the output directory.",
        };

        var command = new Command("init", "Create a randomly initialised Llama model sized for a tokenizer, in the Hugging Face layout.");
        foreach (var option in new Option[] { tokenizer, hiddenSize, layers, heads, kvHeads, intermediateSize, maxPositions, tieEmbeddings, seed, output, force })
            command.Options.Add(option);
        command.Validators.Add(r =>
        {
            if (r.Errors.Any() || r.Children.Any(c => c.Errors.Any())) return;
            int hidden = r.ValueOr(hiddenSize, DefaultHiddenSize), h = r.ValueOr(heads, DefaultHeads);
            if (hidden <= 0 || h <= 0) return;
            if (hidden % h != 0)
                r.AddError($"--heads ({h}) must divide --hidden-size ({hidden})");
            else if (hidden / h % 2 != 0)
                r.AddError($"--heads ({h}) gives an odd head size ({hidden / h}) for --hidden-size {hidden}; rotary embeddings need an even head size");
            else if (r.ValueOr(kvHeads, null) is int kv && kv > 0 && h % kv != 0)
                r.AddError($"--kv-heads ({kv}) must divide --heads ({h})");
        });

        context.SetAction(command, r =>
        {
            var outDir = r.GetValue(output)!;
            if (File.Exists(outDir))
                throw new CliUsageException($"--out: {outDir} is a file, not a directory");
            if (!r.GetValue(force) && (File.Exists(Path.Combine(outDir, "config.json")) || File.Exists(Path.Combine(outDir, "model.safetensors"))))
                throw new CliUsageException($"--out: {outDir} already holds a model; choose another directory or give --force");

            var tokenizerPath = r.GetValue(tokenizer)!;
            var tok = CliInputs.LoadTokenizer(tokenizerPath);
            int hidden = r.GetValue(hiddenSize), h = r.GetValue(heads);
            var config = new LlamaConfig
            {
                VocabSize = tok.VocabularySize,
                HiddenSize = hidden,
                IntermediateSize = r.GetValue(intermediateSize) ?? DefaultIntermediateSize(hidden),
                NumHiddenLayers = r.GetValue(layers),
                NumAttentionHeads = h,
                NumKeyValueHeads = r.GetValue(kvHeads) ?? h,
                HeadDim = hidden / h,
                MaxPositionEmbeddings = r.GetValue(maxPositions),
                RmsNormEps = 1e-5,
                TieWordEmbeddings = r.GetValue(tieEmbeddings),
                BosTokenId = tok.BosId,
                EosTokenIds = tok.EosId is int eos ? new[] { eos } : Array.Empty<int>(),
                PadTokenId = tok.PadId,
                TorchDtype = "float32",
            };
            try { config.Validate("the requested model"); }
            catch (ModelFormatException e) { throw new CliUsageException(e.Message, e); }

            using var model = new LlamaForCausalLM(config);
            model.InitializeWeights(r.GetValue(seed));
            bool tokenizerIsDirectory = Directory.Exists(tokenizerPath);
            HuggingFaceCheckpoint.Save(model, outDir, tokenizerIsDirectory ? tokenizerPath : null);
            if (!tokenizerIsDirectory)
            {
                CopyInto(outDir, tok.SourcePath, CliInputs.StandardTokenizerName(tok.SourcePath));
                if (tok.ConfigPath is string tokenizerConfig)
                    CopyInto(outDir, tokenizerConfig, "tokenizer_config.json");
            }

            var inv = CultureInfo.InvariantCulture;
            context.Out.WriteLine(string.Format(inv,
                "initialised a {0:N0}-parameter model (vocab {1}, hidden {2}, {3} layer{9}, {4}/{5} heads, ffn {6}, seed {7}) in {8}",
                model.ParameterCount, config.VocabSize, config.HiddenSize, config.NumHiddenLayers, config.NumAttentionHeads,
                config.NumKeyValueHeads, config.IntermediateSize, r.GetValue(seed), Path.GetFullPath(outDir), config.NumHiddenLayers == 1 ? "" : "s"));
            return ExitCodes.Success;
        });
        return command;
    }

    private static void CopyInto(string directory, string source, string name)
    {
        var target = Path.Combine(directory, name);
        if (Path.GetFullPath(target) != Path.GetFullPath(source))
            File.Copy(source, target, overwrite: true);
    }
}
