using Microsoft.ML.NEFTune.Examples;
using Microsoft.ML.NEFTune.Training;

// First, before libtorch loads: OpenMP threads sleep between parallel regions instead of spinning, and freed native
// memory is kept for reuse. The library never changes these process-wide settings by itself.
ProcessTuning.Apply();

if (args.Length < 3)
{
    Console.Error.WriteLine("usage: QuickStart TOKENIZER_MODEL ALPACA_JSON OUTPUT_DIR");
    Console.Error.WriteLine("  e.g. dotnet run --project examples/QuickStart -c Release -- ../shared/fixtures/tokenizers/llama2/tokenizer.model ../shared/fixtures/data/alpaca_en_demo.json out/quickstart");
    return 2;
}
QuickStartJob.Run(new QuickStartJob.Settings(args[0], args[1], args[2]), Console.Out);
return 0;
