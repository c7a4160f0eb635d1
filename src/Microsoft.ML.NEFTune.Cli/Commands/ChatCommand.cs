using System.CommandLine;
using System.Text.Json.Nodes;
using Microsoft.ML.NEFTune.Cli.Display;
using Microsoft.ML.NEFTune.Data;
using Microsoft.ML.NEFTune.Generation;
using Microsoft.ML.NEFTune.IO.Tokenizers;
using Microsoft.ML.NEFTune.Modeling;
using Spectre.Console;

namespace Microsoft.ML.NEFTune.Cli.Commands;

using Command = System.CommandLine.Command;

/// <summary><c>neftune chat</c>: an interactive prompt for trying a model, reading messages line by line from standard input.</summary>
public static class ChatCommand
{
    public static Command Create(CliContext context)
    {
        var model = new Option<string>("--model", "-m") { Description = "Model: a Hugging Face directory (e.g. the --out of train) or a llama2.c .bin file.", Required = true, HelpName = "PATH" };
        var tokenizer = new Option<string?>("--tokenizer", "-t") { Description = "Tokenizer file or directory. Default: the model directory's.", HelpName = "PATH" };
        var template = new Option<string>("--template") { Description = "Prompt template the model was tuned with: model (its own chat template, else alpaca), alpaca, llama2-chat, chatml, vicuna, or a template file.", DefaultValueFactory = _ => "model", HelpName = "NAME|FILE" };
        var system = new Option<string?>("--system") { Description = "System prompt (replaces the Alpaca preamble; a <<SYS>> block for llama2-chat).", HelpName = "TEXT" };
        var history = new Option<string>("--history") { Description = "Keep earlier turns in the prompt: auto = on for chat templates (llama2-chat, chatml, vicuna, template files), off for alpaca.", DefaultValueFactory = _ => "auto" }.AcceptOnlyFromAmong("auto", "on", "off");
        var maxNewTokens = new Option<int>("--max-new-tokens", "-n") { Description = "Maximum tokens per answer.", DefaultValueFactory = _ => 256, HelpName = "N" }.Positive();
        var temperature = new Option<double>("--temperature") { Description = "Sampling temperature; 0 = greedy decoding.", DefaultValueFactory = _ => 0.0, HelpName = "T" }.InRange(v => v >= 0 && double.IsFinite(v), "must be a number >= 0");
        var topK = new Option<int>("--top-k") { Description = "Sample among the K most likely tokens; 0 = off.", DefaultValueFactory = _ => 0, HelpName = "K" }.NonNegative();
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling mass; 1 = off.", DefaultValueFactory = _ => 1.0, HelpName = "P" }.InRange(v => v > 0 && v <= 1, "must be in (0, 1]");
        var repetitionPenalty = new Option<double>("--repetition-penalty") { Description = "Penalty on tokens already in the prompt or answer; 1 = off.", DefaultValueFactory = _ => 1.2, HelpName = "R" }.InRange(v => v > 0 && double.IsFinite(v), "must be a number > 0");
        var seed = new Option<long>("--seed", "-s") { Description = "Seed of the sampler (with --temperature > 0).", DefaultValueFactory = _ => 0L, HelpName = "S" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object per answer: {\"prompt\": ..., \"response\": ...}." };
        var dtype = CliInputs.DTypeOption();
        var command = new Command("chat", "Chat with a model: type a message per line (/reset clears the history, /exit quits). Reads standard input, so messages can be piped in.");
        foreach (var option in new Option[] { model, tokenizer, template, system, history, maxNewTokens, temperature, topK, topP, repetitionPenalty, seed, json, dtype })
            command.Options.Add(option);
        context.SetAction(command, r =>
        {
            var modelPath = CliInputs.RequireModelPath(r.GetValue(model)!);
            var tokenizerPath = r.GetValue(tokenizer) ?? (CliInputs.ModelDirectory(modelPath) is string dir && CliInputs.FindTokenizerFile(dir) is not null ? dir : null)
                ?? throw new CliUsageException($"--tokenizer: {modelPath} has no tokenizer; give --tokenizer PATH");
            var tok = CliInputs.LoadTokenizer(tokenizerPath);
            PromptTemplate tmpl;
            try { tmpl = PromptTemplate.Resolve(r.GetValue(template)!, tok); }
            catch (Exception e) when (CliErrors.IsInvalidInput(e) || e is Data.Templates.ChatTemplateException) { throw new CliUsageException($"--template: {e.Message}", e); }
            using var llm = CliInputs.LoadModel(modelPath, r.GetValue(dtype)!, context.Error, out _);
            if (tok.VocabularyMismatch(llm.Config.VocabSize) is { } mismatch) throw new CliUsageException($"--tokenizer: {mismatch}");
            var mode = r.GetValue(history)!;
            var session = new ChatSession(llm, tok, tmpl, r.GetValue(system), mode == "on" || (mode == "auto" && tmpl.Name != "alpaca"), EndOfTurn.Apply(new GenerationOptions
            {
                MaxNewTokens = r.GetValue(maxNewTokens),
                Temperature = r.GetValue(temperature),
                TopK = r.GetValue(topK),
                TopP = r.GetValue(topP),
                RepetitionPenalty = r.GetValue(repetitionPenalty),
                Seed = r.GetValue(seed),
            }, tmpl, tok, llm.Config));
            return Loop(context, session, modelPath, r.GetValue(json));
        });
        return command;
    }

    private static int Loop(CliContext context, ChatSession session, string modelPath, bool json)
    {
        bool interactive = Terminal.IsInteractive(context.In) && Terminal.IsInteractive(context.Out);
        var console = interactive ? Terminal.Console() : null;
        if (console is not null)
        {
            console.MarkupLine($"[bold]neftune chat[/] with {Markup.Escape(Path.GetFullPath(modelPath))} (template {Markup.Escape(session.Template.Name)}, {(session.KeepsHistory ? "multi-turn" : "single-turn")})");
            console.MarkupLine("[grey]Type a message and press Enter; end a line with \\ to continue it. /reset clears the history, /exit quits.[/]");
        }
        while (true)
        {
            if (console is not null) console.Markup("[bold green]you>[/] ");
            var line = ReadMessage(context.In, console);
            if (line is null) break;
            var text = line.Trim();
            if (text.Length == 0) continue;
            if (text.StartsWith('/'))
            {
                var name = text.Split(' ', 2)[0].ToLowerInvariant();
                if (name is "/exit" or "/quit") break;
                if (name == "/reset")
                {
                    session.Reset();
                    console?.MarkupLine("[grey](history cleared)[/]");
                    continue;
                }
                if (name == "/help")
                {
                    context.Out.WriteLine("/reset  clear the conversation history\n/exit   quit (also /quit or end of input)\n/help   this list");
                    continue;
                }
                CliErrors.Write(context.Error, $"unknown chat command {name}; /help lists them (start a message with // to send a leading /)");
                continue;
            }
            if (text.StartsWith("//", StringComparison.Ordinal)) text = text[1..];
            string response;
            try
            {
                response = console is null ? session.Send(text) : console.Status().Start("thinking…", _ => session.Send(text));
            }
            catch (ChatSession.TooLongException e)
            {
                CliErrors.Write(context.Error, e.Message);
                continue;
            }
            if (json) context.Out.WriteLine(new JsonObject { ["prompt"] = text, ["response"] = response }.ToJsonString(CliInputs.Json));
            else if (console is not null)
            {
                console.MarkupLine("[bold blue]model>[/] " + Markup.Escape(response));
                console.WriteLine();
            }
            else context.Out.WriteLine(response);
            context.Out.Flush();
        }
        return ExitCodes.Success;
    }

    /// <summary>One message: a line, joined with the next ones while it ends with a backslash.</summary>
    private static string? ReadMessage(TextReader input, IAnsiConsole? console)
    {
        var line = input.ReadLine();
        if (line is null) return null;
        var text = new System.Text.StringBuilder();
        while (line is not null && line.EndsWith('\\'))
        {
            text.Append(line, 0, line.Length - 1).Append('\n');
            console?.Markup("[grey]...>[/] ");
            line = input.ReadLine();
        }
        return text.Append(line ?? "").ToString();
    }

    /// <summary>Text at which a template's model begins a new turn by itself.</summary>
    public static IReadOnlyList<string> StopStrings(string template) =>
        PromptTemplate.BuiltInNames.Contains(template) ? PromptTemplate.Get(template).EndOfTurnStrings : Array.Empty<string>();
}

/// <summary>A conversation with a model: the template renders the turns so far, the model answers the last one.</summary>
public sealed class ChatSession
{
    private readonly LlamaForCausalLM model;
    private readonly TextTokenizer tokenizer;
    private readonly ExampleTokenizer encoder;
    private readonly GenerationOptions options;
    private readonly List<ChatMessage> turns = new();
    private int sent;

    public ChatSession(LlamaForCausalLM model, TextTokenizer tokenizer, PromptTemplate template, string? system, bool keepHistory, GenerationOptions options)
    {
        this.model = model;
        this.tokenizer = tokenizer;
        Template = template;
        System = string.IsNullOrWhiteSpace(system) ? null : system;
        KeepsHistory = keepHistory;
        this.options = options;
        encoder = new ExampleTokenizer(tokenizer, template);
    }

    public PromptTemplate Template { get; }
    public string? System { get; }
    public bool KeepsHistory { get; }

    /// <summary>The turns kept so far (user and assistant).</summary>
    public IReadOnlyList<ChatMessage> History => turns;

    /// <summary>Forgets the earlier turns.</summary>
    public void Reset() => turns.Clear();

    /// <summary>Answers <paramref name="message"/>; earlier turns are dropped, oldest first, when the prompt would not fit the context window.</summary>
    /// <exception cref="TooLongException">The message alone does not fit.</exception>
    public string Send(string message)
    {
        var history = KeepsHistory ? turns.ToList() : new List<ChatMessage>();
        int window = model.Config.RopeScaling is null ? model.Config.MaxPositionEmbeddings : int.MaxValue;
        int[] ids;
        while (true)
        {
            var messages = new List<ChatMessage>();
            if (System is not null) messages.Add(new ChatMessage(ChatRole.System, System));
            messages.AddRange(history);
            messages.Add(new ChatMessage(ChatRole.User, message));
            ids = encoder.EncodePrompt(InstructionExample.FromMessages(messages));
            if (ids.Length + Math.Min(options.MaxNewTokens, 16) <= window || history.Count == 0) break;
            history.RemoveRange(0, Math.Min(2, history.Count));
        }
        if (ids.Length >= window)
            throw new TooLongException($"the message is {ids.Length} tokens with the template, more than the model's context window of {window}; shorten it");
        var generated = new TextGenerator(model, tokenizer).GenerateIds(new[] { ids.Select(i => (long)i).ToArray() }, options with { Seed = options.Seed + sent })[0];
        sent++;
        var text = tokenizer.Decode(generated.Select(i => (int)i));
        foreach (var stop in options.StopStrings)
        {
            int at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0) text = text[..at];
        }
        text = text.Trim();
        if (KeepsHistory)
        {
            turns.Clear();
            turns.AddRange(history);
            turns.Add(new ChatMessage(ChatRole.User, message));
            turns.Add(new ChatMessage(ChatRole.Assistant, text.Length > 0 ? text : "…"));
        }
        return text;
    }

    public sealed class TooLongException(string message) : Exception(message);
}
