// First, before libtorch loads: OpenMP threads sleep rather than spin between parallel regions, and freed native
// memory stays in the heap (see ProcessTuning). The library itself never changes these process-wide settings.
Microsoft.ML.NEFTune.Training.ProcessTuning.Apply();
return Microsoft.ML.NEFTune.Cli.NeftuneCli.Run(args, Console.Out, Console.Error, Console.In);
