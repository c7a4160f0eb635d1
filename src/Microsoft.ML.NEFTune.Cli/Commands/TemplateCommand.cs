using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.NEFTune.Data.Templates;

namespace Microsoft.ML.NEFTune.Cli.Commands;

using Command = System.CommandLine.Command;

/// <summary>
/// <c>neftune template</c>: renders a conversation with a model's chat template, exactly as
/// <c>apply_chat_template(messages, tokenize=False, add_generation_prompt=…)</c>; the text is printed as is, with
/// nothing added (not even a final newline).
/// </summary>
public static class TemplateCommand
{
    public static Command Create(CliContext context)
    {
        var model = new Option<string>("--model", "-m")
        {
            Description = "Model or tokenizer directory holding tokenizer_config.json (and possibly chat_template.jinja).",
            HelpName = "DIR",
        };
        var config = new Option<string>("--tokenizer-config")
        {
            Description = "A tokenizer_config.json file (instead of --model).",
            HelpName = "FILE",
        };
        var messages = new Option<string>("--messages")
        {
            Description = "A JSON file with a list of {\"role\", \"content\"} messages.",
            Required = true,
            HelpName = "FILE.json",
        };
        var generationPrompt = new Option<bool>("--add-generation-prompt")
        {
            Description = "End with the header that starts an assistant turn.",
        };
        var date = new Option<string>("--date")
        {
            Description = "The date strftime_now returns, YYYY-MM-DD (midnight), so renders are reproducible. Default: now.",
            HelpName = "YYYY-MM-DD",
        };

        var command = new Command("template", "Render messages with a model's chat template, exactly as Hugging Face transformers' apply_chat_template.");
        command.Options.Add(model);
        command.Options.Add(config);
        command.Options.Add(messages);
        command.Options.Add(generationPrompt);
        command.Options.Add(date);
        command.Validators.Add(r =>
        {
            bool hasModel = r.GetResult(model) is not null, hasConfig = r.GetResult(config) is not null;
            if (hasModel == hasConfig) r.AddError("Give exactly one of --model and --tokenizer-config.");
        });

        context.SetAction(command, r =>
        {
            DateTime? now = null;
            if (r.GetValue(date) is { } text)
            {
                if (!DateTime.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var pinned))
                    throw new CliUsageException($"--date must be YYYY-MM-DD, got '{text}'");
                now = pinned;
            }

            var template = LoadTemplate(r.GetValue(model) ?? r.GetValue(config)!);
            var conversation = ReadMessages(r.GetValue(messages)!);
            string rendered;
            try
            {
                rendered = template.Render(conversation, r.GetValue(generationPrompt), new ChatTemplateOptions { Now = now });
            }
            catch (ChatTemplateException e) when (e.RaisedByTemplate)
            {
                // The template refused the conversation: its own message, exit code 1, never a stack trace.
                CliErrors.Write(context.Error, e.Message);
                return ExitCodes.RuntimeFailure;
            }
            catch (ChatTemplateException e)
            {
                throw new CliUsageException(e.Message, e);
            }

            context.Out.Write(rendered);
            context.Out.Flush();
            return ExitCodes.Success;
        });
        return command;
    }

    private static ChatTemplate LoadTemplate(string path)
    {
        try
        {
            return ChatTemplate.FromTokenizerConfig(path);
        }
        catch (ChatTemplateException e)
        {
            throw new CliUsageException($"the chat template of '{path}' cannot be used: {e.Message}", e);
        }
    }

    private static IReadOnlyList<(string Role, string Content)> ReadMessages(string path)
    {
        if (!File.Exists(path)) throw new CliUsageException($"the messages file '{Path.GetFullPath(path)}' does not exist");
        try
        {
            return ChatTemplate.ReadMessagesJson(File.ReadAllText(path));
        }
        catch (Exception e) when (e is JsonException or FormatException)
        {
            throw new CliUsageException($"the messages file '{path}' is not a JSON list of {{\"role\", \"content\"}} messages: {e.Message}", e);
        }
    }
}
