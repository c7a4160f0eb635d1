using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.Generation;
using Microsoft.ML.NEFTune.IO.Tokenizers;

namespace Microsoft.ML.NEFTune.Cli.Commands;

using Command = System.CommandLine.Command;

/// <summary><c>neftune generate</c>: continue a prompt with a model.</summary>
public static class GenerateCommand
{
    public static Command Create(CliContext context)
    {
        var model = new Option<string>("--model", "-m")
        {
            Description = "Model to run: a Hugging Face model directory or a llama2.c .bin file.",
            Required = true,
            HelpName = "PATH",
        };
        var prompt = new Option<string>("--prompt", "-p")
        {
            Description = "Prompt text; needs a tokenizer (BOS is added when the tokenizer asks for it).",
            HelpName = "TEXT",
        };
        var promptIds = new Option<long[]>("--prompt-ids")
        {
            Description = "Prompt as comma-separated token ids, used as given (no BOS added), e.g. 1,2,3. Needs no tokenizer.",
            HelpName = "IDS",
            Arity = ArgumentArity.ExactlyOne,
            CustomParser = ParseIds,
        };
        var tokenizer = new Option<string>("--tokenizer", "-t")
        {
            Description = "Tokenizer file (tokenizer.model or tokenizer.json) or a directory holding one. Default: the model directory's tokenizer, when it has one.",
            HelpName = "PATH",
        };
        var maxNewTokens = new Option<int>("--max-new-tokens", "-n")
        {
            Description = "Maximum number of tokens to generate (fewer when the context window is reached or EOS is generated).",
            DefaultValueFactory = _ => 128,
            HelpName = "N",
        }.NonNegative();
        var temperature = new Option<double>("--temperature")
        {
            Description = "Sampling temperature; 0 = greedy decoding.",
            DefaultValueFactory = _ => 0.0,
            HelpName = "T",
        }.InRange(v => v >= 0 && double.IsFinite(v), "must be a number >= 0");
        var topK = new Option<int>("--top-k")
        {
            Description = "Sample only among the K most likely tokens; 0 = off.",
            DefaultValueFactory = _ => 0,
            HelpName = "K",
        }.NonNegative();
        var topP = new Option<double>("--top-p")
        {
            Description = "Nucleus sampling: sample among the most likely tokens reaching probability P; 1 = off.",
            DefaultValueFactory = _ => 1.0,
            HelpName = "P",
        }.InRange(v => v > 0 && v <= 1, "must be in (0, 1]");
        var repetitionPenalty = new Option<double>("--repetition-penalty")
        {
            Description = "Penalty on tokens already in the prompt or output (Hugging Face rule); 1 = off.",
            DefaultValueFactory = _ => 1.0,
            HelpName = "R",
        }.InRange(v => v > 0 && double.IsFinite(v), "must be a number > 0");
        var seed = new Option<long>("--seed", "-s")
        {
            Description = "Seed of the sampler (used when --temperature > 0).",
            DefaultValueFactory = _ => 0L,
            HelpName = "S",
        };
        var noCache = new Option<bool>("--no-cache")
        {
            Description = "Recompute the whole sequence at every step instead of using the key/value cache.",
        };
        var json = new Option<bool>("--json")
        {
            Description = "Print one JSON object {\"ids\": [generated ids], \"text\": generated text, or null without a tokenizer, \"load_seconds\", \"dtype\"}.",
        };
        var dtype = CliInputs.DTypeOption();

        var command = new Command("generate", "Generate a continuation of a prompt with a model (prints the generated part only).");
        foreach (var option in new Option[] { model, prompt, promptIds, tokenizer, maxNewTokens, temperature, topK, topP, repetitionPenalty, seed, noCache, json, dtype })
            command.Options.Add(option);
        command.OneOf(required: true, prompt, promptIds);

        context.SetAction(command, r =>
        {
            var modelPath = CliInputs.RequireModelPath(r.GetValue(model)!);
            var tokenizerPath = r.GetValue(tokenizer);
            var text = r.GetValue(prompt);
            if (tokenizerPath is null && CliInputs.ModelDirectory(modelPath) is string dir && CliInputs.FindTokenizerFile(dir) is not null)
                tokenizerPath = dir;
            if (text is not null && tokenizerPath is null)
                throw new CliUsageException($"--prompt needs a tokenizer: {modelPath} has none; give --tokenizer PATH or use --prompt-ids");

            var tok = tokenizerPath is null ? null : CliInputs.LoadTokenizer(tokenizerPath);
            using var llm = CliInputs.LoadModel(modelPath, r.GetValue(dtype)!, context.Error, out var loadSeconds);
            var config = llm.Config;
            if (tok?.VocabularyMismatch(config.VocabSize) is { } mismatch) throw new CliUsageException($"--tokenizer: {mismatch}");

            long[] ids = text is not null ? Encode(tok!, text) : r.GetValue(promptIds)!;
            if (ids.Length == 0)
                throw new CliUsageException("--prompt: the prompt encodes to no tokens and the tokenizer adds no BOS; give a non-empty prompt");
            foreach (var id in ids)
                if (id < 0 || id >= config.VocabSize)
                    throw new CliUsageException($"{(text is null ? "--prompt-ids" : "--prompt")}: token id {id} is outside the model's vocabulary (0..{config.VocabSize - 1})");
            if (config.RopeScaling is null && ids.Length >= config.MaxPositionEmbeddings)
                throw new CliUsageException($"the prompt has {ids.Length} tokens, which fills the model's context window of {config.MaxPositionEmbeddings}");

            var options = new GenerationOptions
            {
                MaxNewTokens = r.GetValue(maxNewTokens),
                Temperature = r.GetValue(temperature),
                TopK = r.GetValue(topK),
                TopP = r.GetValue(topP),
                RepetitionPenalty = r.GetValue(repetitionPenalty),
                Seed = r.GetValue(seed),
                UseCache = !r.GetValue(noCache),
            };
            var generated = new TextGenerator(llm, tok).GenerateIds(new[] { ids }, options)[0];
            var output = tok?.Decode(generated.Select(i => (int)i));

            if (r.GetValue(json))
            {
                var result = new JsonObject
                {
                    ["ids"] = new JsonArray(generated.Select(i => (JsonNode)i).ToArray()),
                    ["text"] = output,
                    ["load_seconds"] = Math.Round(loadSeconds, 3),
                    ["dtype"] = llm.HeadWeight.dtype == TorchSharp.torch.ScalarType.BFloat16 ? "bfloat16" : "float32",
                };
                context.Out.WriteLine(result.ToJsonString(CliInputs.Json));
            }
            else
            {
                context.Out.WriteLine(output ?? string.Join(' ', generated.Select(i => i.ToString(CultureInfo.InvariantCulture))));
            }
            return ExitCodes.Success;
        });
        return command;
    }

    private static long[] Encode(TextTokenizer tokenizer, string text)
    {
        var ids = tokenizer.Encode(text).Select(i => (long)i);
        return (tokenizer.AddBosToken && tokenizer.BosId is int bos ? ids.Prepend(bos) : ids).ToArray();
    }

    private static long[] ParseIds(ArgumentResult result)
    {
        var text = string.Join(',', result.Tokens.Select(t => t.Value));
        var parts = text.Split(new[] { ',', ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0)
        {
            result.AddError("--prompt-ids needs at least one token id, e.g. --prompt-ids 1");
            return Array.Empty<long>();
        }
        var ids = new long[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!long.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out ids[i]) || ids[i] < 0)
            {
                result.AddError($"--prompt-ids: '{parts[i]}' is not a token id (expected non-negative integers separated by commas, e.g. 1,2,3)");
                return Array.Empty<long>();
            }
        }
        return ids;
    }
}
