using System.CommandLine;
using Microsoft.ML.NEFTune.Export;

namespace Microsoft.ML.NEFTune.Cli.Commands;

using Command = System.CommandLine.Command;

/// <summary><c>neftune export-recipe --engine trl</c>: the same fine-tuning as a TRL + accelerate job for many GPUs.</summary>
public static class ExportRecipeCommand
{
    public static Command Create(CliContext context)
    {
        var o = new TrainOptions();
        o.Out.Description = "Recipe folder: model/, data/, sft_config.yaml, accelerate/, neftune_hook.py, train.py, README.md.";
        var engine = new Option<string>("--engine") { Description = "The training engine to export for (trl: Hugging Face TRL + accelerate).", Required = true, HelpName = "ENGINE" }
            .AcceptOnlyFromAmong("trl");
        var accelerate = new Option<string>("--accelerate")
        {
            Description = "accelerate profile the launch command uses: single-gpu, multi-gpu (DDP), fsdp2 or zero3 (all four are written).",
            DefaultValueFactory = _ => "single-gpu",
            HelpName = "PROFILE",
        }.AcceptOnlyFromAmong("single-gpu", "multi-gpu", "fsdp2", "zero3");
        var adapter = new Option<string?>("--adapter") { Description = "A PEFT LoRA adapter folder to continue training (copied to adapter/).", HelpName = "DIR" };

        var excluded = new Option[] { o.Resume, o.Metrics, o.SamplePrompts, o.Plot, o.Quiet, o.ValSplit };
        var command = new Command("export-recipe", "Write a TRL + accelerate recipe that continues this fine-tuning on many GPUs, with NEFTune's per-sequence noise.");
        command.Options.Add(engine);
        command.Options.Add(accelerate);
        command.Options.Add(adapter);
        foreach (var option in o.All.Where(x => !excluded.Contains(x))) command.Options.Add(option);
        command.OneOf(false, o.Epochs, o.MaxSteps);

        context.SetAction(command, r =>
        {
            var request = o.Request(r);
            var outDir = r.GetValue(o.Out)!;
            if (File.Exists(outDir)) throw new CliUsageException($"--out: {outDir} is a file; give a folder");
            var modelDir = CliInputs.ModelDirectory(request.ModelPath)
                ?? throw new CliUsageException($"--model: {request.ModelPath} is not a Hugging Face model folder (a llama2.c .bin cannot be exported; train or save it first)");
            var adapterDir = r.GetValue(adapter);
            if (adapterDir is not null && !File.Exists(Path.Combine(adapterDir, "adapter_config.json")))
                throw new CliUsageException($"--adapter: no adapter_config.json in {adapterDir}");
            var options = new TrlRecipeOptions
            {
                ModelPath = modelDir,
                TokenizerPath = request.TokenizerPath,
                AdapterPath = adapterDir,
                DataPath = request.DataPath,
                ValidationDataPath = request.ValidationDataPath,
                Format = request.Format,
                Training = request.Training,
                Accelerate = r.GetValue(accelerate) switch { "multi-gpu" => AccelerateProfile.MultiGpu, "fsdp2" => AccelerateProfile.Fsdp2, "zero3" => AccelerateProfile.Zero3, _ => AccelerateProfile.SingleGpu },
                OutputDirectory = outDir,
            };
            TrlRecipe.Write(options);
            context.Out.WriteLine($"recipe written to {Path.GetFullPath(outDir)}; run: cd {outDir} && accelerate launch --config_file accelerate/{TrlRecipe.ProfileName(options.Accelerate)}.yaml train.py");
            return ExitCodes.Success;
        });
        return command;
    }
}
