// Before libtorch loads: OpenMP threads sleep rather than spin between parallel regions (see OpenMpWaitPolicy).
Microsoft.ML.NEFTune.Training.OpenMpWaitPolicy.PreferPassive();
return Microsoft.ML.NEFTune.Cli.NeftuneCli.Run(args, Console.Out, Console.Error, Console.In);
