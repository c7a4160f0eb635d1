using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using Microsoft.ML.NEFTune.Cli.Commands;

namespace Microsoft.ML.NEFTune.Cli;

using Command = System.CommandLine.Command;

/// <summary>The <c>neftune</c> command line.</summary>
public static class NeftuneCli
{
    /// <summary>Builds the root command with all subcommands.</summary>
    public static Command CreateRootCommand(CliContext context)
    {
        var root = new Command("neftune", "NEFTune (noisy embedding) instruction tuning of Llama-family causal language models.");
        root.Options.Add(new HelpOption());
        root.Options.Add(new VersionOption());
        root.Options.Add(context.Verbose);
        root.Subcommands.Add(GenerateCommand.Create(context));
        root.Subcommands.Add(TokenizeCommand.Create(context));
        root.Subcommands.Add(InitCommand.Create(context));
        root.Subcommands.Add(TrainCommand.Create(context));
        root.Subcommands.Add(EvalCommand.Create(context));
        root.Subcommands.Add(BenchCommand.Create(context));
        root.Subcommands.Add(PlotCommand.Create(context));
        root.Subcommands.Add(CompareCommand.Create(context));
        root.Subcommands.Add(ExportRecipeCommand.Create(context));
        root.Subcommands.Add(DownloadCommand.Create(context));
        root.Subcommands.Add(ChatCommand.Create(context));
        root.Subcommands.Add(TemplateCommand.Create(context));
        return root;
    }

    /// <summary>Runs the command line; returns the exit code (0 success, 1 runtime failure, 2 usage error).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, TextReader stdin)
    {
        var context = new CliContext(stdout, stderr, stdin);
        bool verbose = args.Contains("--verbose") || args.Contains("-v");
        try
        {
            var root = CreateRootCommand(context);
            var parseResult = root.Parse(args);
            if (parseResult.Action is ParseErrorAction)
            {
                var command = string.Join(' ', Enumerable.Reverse(CommandPath(parseResult.CommandResult)));
                CliErrors.Write(stderr, string.Join("; ", parseResult.Errors.Select(e => e.Message).Distinct()) + $" (see '{command} --help')");
                return ExitCodes.UsageError;
            }
            return parseResult.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (Exception e)
        {
            return CliErrors.Report(e, stderr, verbose);
        }
    }

    private static IEnumerable<string> CommandPath(System.CommandLine.Parsing.CommandResult? result)
    {
        for (; result is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
            yield return result.Command.Name;
    }
}
