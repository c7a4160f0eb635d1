// First, before libtorch loads: OpenMP threads sleep between parallel regions instead of spinning, and freed native
// memory is kept for reuse. The library never changes these process-wide settings by itself.
Microsoft.ML.NEFTune.Training.ProcessTuning.Apply();

if (args.Length < 2 || args.Contains("--help"))
{
    Console.WriteLine("""
        Instruction-tunes a Llama-family model with NEFTune inside an ML.NET pipeline, generates answers, and saves and
        reloads the whole pipeline.

        usage: MlNetPipeline MODEL_DIR DATA_JSON [TRAIN_ROWS] [MAX_STEPS] [MAX_LENGTH] [MAX_NEW_TOKENS] [MODEL_FILE]

          MODEL_DIR       Hugging Face model folder (config.json, model.safetensors, tokenizer.model or tokenizer.json)
          DATA_JSON       JSON array of {instruction, input, output} records (Alpaca format)
          TRAIN_ROWS      records used for training (default 200); the next 3 are the test rows
          MAX_STEPS       optimizer steps (default 50)
          MAX_LENGTH      tokens per training example, longer ones are truncated (default 256)
          MAX_NEW_TOKENS  tokens generated per answer (default 64)
          MODEL_FILE      where the pipeline is saved (default assistant.zip)
        """);
    return args.Contains("--help") ? 0 : 2;
}

int Arg(int index, int fallback) => args.Length > index ? int.Parse(args[index], System.Globalization.CultureInfo.InvariantCulture) : fallback;

bool same = NeftuneSample.Run(args[0], args[1], trainRows: Arg(2, 200), maxSteps: Arg(3, 50), maxLength: Arg(4, 256), maxNewTokens: Arg(5, 64),
    modelFile: args.Length > 6 ? args[6] : "assistant.zip", Console.Out);
return same ? 0 : 1;
