using System.CommandLine;

namespace Microsoft.ML.NEFTune.Cli;

public static class NeftuneCli
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, TextReader stdin)
    {
        var root = new RootCommand("neftune: NEFTune instruction tuning of Llama-family models.");
        return root.Parse(args).Invoke();
    }
}
