// Uses Microsoft.ML.NEFTune as an application would, from the packed .nupkg: makes a tiny Llama, fine-tunes it with
// NEFTune through ML.NET (progress through IProgress), streams a chat answer through IChatClient, reloads the saved
// model, and loads it again by repository id from a Hugging Face-layout cache in offline mode (no network). Exit code 0
// when every check holds. Argument: the fixtures folder (for the Llama 2 tokenizer and Alpaca data).
using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.ML;
using System.Security.Cryptography;
using Microsoft.ML.NEFTune;
using Microsoft.ML.NEFTune.Hub;
using Microsoft.ML.NEFTune.IO;
using Microsoft.ML.NEFTune.Modeling;
using Microsoft.ML.NEFTune.Training;

var fixtures = args.Length > 0 ? args[0] : throw new ArgumentException("usage: PackageCheck FIXTURES_DIR");
var work = Directory.CreateTempSubdirectory("neftune-package-check-").FullName;
try
{
    var baseModel = Path.Combine(work, "base");
    using (var model = new LlamaForCausalLM(new LlamaConfig
    {
        VocabSize = 32000, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2,
        HeadDim = 8, MaxPositionEmbeddings = 256, RmsNormEps = 1e-5, TieWordEmbeddings = true, BosTokenId = 1, EosTokenIds = new[] { 2 }, PadTokenId = 0,
    }))
    {
        model.InitializeWeights(1);
        HuggingFaceCheckpoint.Save(model, baseModel);
    }
    File.Copy(Path.Combine(fixtures, "tokenizers", "llama2", "tokenizer.model"), Path.Combine(baseModel, "tokenizer.model"));

    using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(fixtures, "data", "alpaca_en_demo.json")));
    var rows = json.RootElement.EnumerateArray().Take(8).Select(e => new Row
    {
        Instruction = e.GetProperty("instruction").GetString()!, Input = e.GetProperty("input").GetString()!, Output = e.GetProperty("output").GetString()!,
    }).ToList();

    var ml = new MLContext(seed: 1);
    int reports = 0;
    using var tuned = ml.Neftune().InstructionTuning(new NeftuneInstructionTuningOptions
    {
        ModelPath = baseModel, InputColumnName = "Input", ResponseColumnName = "Output",
        NoiseAlpha = 5, MaxSteps = 2, BatchSize = 4, MaxLength = 96, LoggingSteps = 1, NoiseOffTrainSampleSize = 4, MaxNewTokens = 8,
        Progress = new Progress(p => { if (p.IsEvaluation) return; reports++; Console.WriteLine($"step {p.Step}/{p.TotalSteps} loss {p.TrainLoss:F3}"); }),
    }).Fit(ml.Data.LoadFromEnumerable(rows));
    Check(reports >= 2, $"progress reports: {reports}");

    IChatClient chat = tuned.AsChatClient();
    var options = new ChatOptions { MaxOutputTokens = 12, Temperature = 0.8f, Seed = 3 };
    var pieces = new List<string>();
    await foreach (var update in chat.GetStreamingResponseAsync("Name a colour.", options)) pieces.Add(update.Text);
    var whole = await chat.GetResponseAsync("Name a colour.", options);
    Console.WriteLine($"streamed {pieces.Count(p => p.Length > 0)} pieces: {string.Concat(pieces)}");
    Check(string.Concat(pieces) == whole.Text, "streamed text equals the response");
    Check(whole.Usage?.OutputTokenCount > 0, "usage counted");

    var saved = Path.Combine(work, "tuned");
    tuned.SaveModel(saved);
    using var reloaded = NeftuneModel.LoadTransformer(new MLContext(), saved);
    Check(reloaded.Generate("Name a colour.") == tuned.Generate("Name a colour."), "the reloaded model generates the same text");
    // The same folder as a Hub repository in a huggingface_hub cache: blobs by SHA-256, a snapshot of links, refs/main.
    var cache = new HuggingFaceCache(Path.Combine(work, "hf-cache"));
    var repo = new HubRepository("someone/tuned-tiny");
    var commit = new string('a', 40);
    var blobs = Directory.CreateDirectory(Path.Combine(cache.RepositoryDirectory(repo), "blobs")).FullName;
    foreach (var file in Directory.GetFiles(saved))
    {
        var blob = Path.Combine(blobs, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file))));
        File.Copy(file, blob, overwrite: true);
        cache.Link(repo, commit, Path.GetFileName(file), blob);
    }
    cache.WriteRef(repo, "main", commit);
    using var fromCache = NeftuneModel.FromPretrained(new MLContext(), repo.Id,
        hubOptions: new HuggingFaceHubOptions { CacheDirectory = cache.Directory, Offline = true, Endpoint = "http://127.0.0.1:9" });
    Check(fromCache.Generate("Name a colour.") == tuned.Generate("Name a colour."), "the model loaded by id from the cache generates the same text");
    Console.WriteLine("package check passed");
    return 0;
}
finally
{
    try { Directory.Delete(work, recursive: true); } catch (IOException) { }
}

static void Check(bool ok, string what)
{
    if (!ok) throw new InvalidOperationException("package check failed: " + what);
}

sealed class Row
{
    public string Instruction { get; set; } = "";
    public string Input { get; set; } = "";
    public string Output { get; set; } = "";
}

sealed class Progress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
{
    public void Report(TrainingProgress value) => report(value);
}
