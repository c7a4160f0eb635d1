return Microsoft.ML.NEFTune.Cli.NeftuneCli.Run(args, Console.Out, Console.Error, Console.In);
