using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Microsoft.ML.NEFTune.Cli.Commands;

using Command = System.CommandLine.Command;

/// <summary><c>neftune tokenize</c>: text on standard input to token ids on standard output.</summary>
public static class TokenizeCommand
{
    public static Command Create(CliContext context)
    {
        var tokenizer = new Option<string>("--tokenizer", "-t")
        {
            Description = "Tokenizer file (tokenizer.model or tokenizer.json) or a directory holding one.",
            Required = true,
            HelpName = "PATH",
        };
        var json = new Option<bool>("--json")
        {
            Description = "Read a JSON array of strings and print a JSON array of id arrays. Without it, each input line is one text and each output line its ids separated by spaces.",
        };

        var command = new Command("tokenize", "Encode texts from standard input to token ids (no BOS/EOS added).");
        command.Options.Add(tokenizer);
        command.Options.Add(json);

        context.SetAction(command, r =>
        {
            if (r.GetValue(json))
            {
                var texts = ReadJsonStrings(context.In.ReadToEnd());
                var tok = CliInputs.LoadTokenizer(r.GetValue(tokenizer)!);
                var result = new JsonArray(texts.Select(t => (JsonNode)new JsonArray(tok.Encode(t).Select(i => (JsonNode)i).ToArray())).ToArray());
                context.Out.WriteLine(result.ToJsonString(CliInputs.Json));
            }
            else
            {
                var tok = CliInputs.LoadTokenizer(r.GetValue(tokenizer)!);
                for (string? line; (line = context.In.ReadLine()) is not null;)
                    context.Out.WriteLine(string.Join(' ', tok.Encode(line).Select(i => i.ToString(CultureInfo.InvariantCulture))));
            }
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Parses a JSON array of strings; errors name the line and column (1-based) of standard input.</summary>
    public static IReadOnlyList<string> ReadJsonStrings(string input)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(input, new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow });
        }
        catch (JsonException e)
        {
            long line = (e.LineNumber ?? 0) + 1;
            long column = Column(input, e.LineNumber ?? 0, e.BytePositionInLine ?? 0) + 1;
            throw new CliUsageException($"standard input is not valid JSON at line {line}, column {column}: {StripPosition(e.Message)}", e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Array)
                throw new CliUsageException($"standard input must be a JSON array of strings, got a JSON {root.ValueKind.ToString().ToLowerInvariant()}");
            var texts = new List<string>();
            foreach (var element in root.EnumerateArray())
            {
                if (element.ValueKind != JsonValueKind.String)
                    throw new CliUsageException($"standard input must be a JSON array of strings, but element {texts.Count} is a {element.ValueKind.ToString().ToLowerInvariant()}");
                texts.Add(element.GetString()!);
            }
            return texts;
        }
    }

    private static string StripPosition(string message)
    {
        int i = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (i >= 0 ? message[..i] : message).TrimEnd();
    }

    private static long Column(string input, long lineNumber, long bytePosition)
    {
        var lines = input.Split('\n');
        if (lineNumber >= lines.Length) return bytePosition;
        var bytes = Encoding.UTF8.GetBytes(lines[lineNumber]);
        return Encoding.UTF8.GetCharCount(bytes, 0, (int)Math.Min(bytePosition, bytes.Length));
    }
}
