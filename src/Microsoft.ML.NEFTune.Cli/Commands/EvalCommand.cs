using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Generation;
using Microsoft.ML.NEFTune.Training;

namespace Microsoft.ML.NEFTune.Cli.Commands;

using Command = System.CommandLine.Command;

/// <summary><c>neftune eval</c>: noise-off loss and perplexity on a data set, and optionally response length and diversity.</summary>
public static class EvalCommand
{
    public static Command Create(CliContext context)
    {
        var model = new Option<string>("--model", "-m") { Description = "Model: a Hugging Face directory or a llama2.c .bin file.", Required = true, HelpName = "PATH" };
        var tokenizer = new Option<string?>("--tokenizer", "-t") { Description = "Tokenizer file or directory. Default: the model directory's.", HelpName = "PATH" };
        var data = new Option<string>("--data", "-d") { Description = "Evaluation data (same formats as train).", Required = true, HelpName = "FILE" };
        var template = new Option<string>("--template") { Description = "Prompt template: model (its own chat template, else alpaca), alpaca, llama2-chat, chatml, vicuna, or a template file.", DefaultValueFactory = _ => "model", HelpName = "NAME|FILE" };
        var maxLength = new Option<int>("--max-length") { Description = "Tokens per example.", DefaultValueFactory = _ => 512, HelpName = "L" }.Positive();
        var batchSize = new Option<int>("--batch-size") { Description = "Sequences per batch.", DefaultValueFactory = _ => 8, HelpName = "B" }.Positive();
        var generate = new Option<int>("--generate") { Description = "Also generate responses for the first N prompts (greedy, repetition penalty 1.2) and report length and diversity.", DefaultValueFactory = _ => 0, HelpName = "N" }.NonNegative();
        var maxNewTokens = new Option<int>("--max-new-tokens") { Description = "Tokens generated per prompt with --generate.", DefaultValueFactory = _ => 256, HelpName = "N" }.Positive();
        var prefixWords = new Option<int?>("--diversity-prefix-words") { Description = "Score diversity on each response's first N words, dropping shorter ones (the paper uses 50 for Alpaca). Default: whole responses.", HelpName = "N" }.Positive();
        var json = new Option<bool>("--json") { Description = "Print one JSON object." };
        var dtype = CliInputs.DTypeOption();
        var command = new Command("eval", "Validation loss and perplexity with noise off; with --generate, average response length and diversity.");
        foreach (var option in new Option[] { model, tokenizer, data, template, maxLength, batchSize, generate, maxNewTokens, prefixWords, json, dtype })
            command.Options.Add(option);
        context.SetAction(command, r =>
        {
            var modelPath = CliInputs.RequireModelPath(r.GetValue(model)!);
            var dataPath = r.GetValue(data)!;
            if (!File.Exists(dataPath)) throw new CliUsageException($"--data: file not found: {dataPath}");
            var tok = FineTuning.LoadTokenizer(modelPath, r.GetValue(tokenizer));
            var tmpl = PromptTemplate.Resolve(r.GetValue(template)!, tok);
            var dataset = DatasetReader.Read(dataPath);
            var encoder = new ExampleTokenizer(tok, tmpl, new ExampleTokenizerOptions { MaxLength = r.GetValue(maxLength) });
            var tokenized = dataset.Format == DataFormat.Text ? encoder.TokenizeDocuments(dataset.Documents) : encoder.Tokenize(dataset.Examples);
            using var lm = CliInputs.LoadModel(modelPath, r.GetValue(dtype)!, context.Error, out var loadSeconds);
            if (tok.VocabularyMismatch(lm.Config.VocabSize) is { } mismatch) throw new CliUsageException($"--tokenizer: {mismatch}");
            double loss = Evaluation.MeanLoss(lm, tokenized.Examples, r.GetValue(batchSize), tok.PaddingId(lm.Config.PadTokenId));
            var result = new JsonObject { ["examples"] = tokenized.Examples.Count, ["loss"] = loss, ["perplexity"] = Math.Exp(loss), ["load_seconds"] = Math.Round(loadSeconds, 3) };
            int n = Math.Min(r.GetValue(generate), dataset.Examples.Count);
            if (n > 0)
            {
                var prompts = dataset.Examples.Take(n).Select(e => tmpl.RenderPrompt(e.WithoutFinalResponse())).ToList();
                var outputs = new TextGenerator(lm, tok).Generate(prompts, new GenerationOptions { MaxNewTokens = r.GetValue(maxNewTokens), RepetitionPenalty = 1.2 });
                var metrics = ResponseMetrics.Compute(outputs, tok, r.GetValue(prefixWords));
                result["responses"] = n;
                result["avg_response_chars"] = metrics.AverageCharacters;
                result["avg_response_tokens"] = metrics.AverageTokens;
                result["avg_response_words"] = metrics.AverageWords;
                result["diversity"] = double.IsFinite(metrics.Diversity) ? metrics.Diversity : null;
                result["log_diversity"] = double.IsFinite(metrics.LogDiversity) ? metrics.LogDiversity : null;
            }
            if (r.GetValue(json)) context.Out.WriteLine(result.ToJsonString());
            else foreach (var (key, value) in result)
                    context.Out.WriteLine($"{key,-20} {(value is JsonValue v && v.TryGetValue<double>(out var d) ? d.ToString("G6", CultureInfo.InvariantCulture) : value?.ToJsonString())}");
            return ExitCodes.Success;
        });
        return command;
    }
}
