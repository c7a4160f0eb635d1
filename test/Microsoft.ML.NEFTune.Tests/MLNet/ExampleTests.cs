using System.Text.Json.Nodes;
using Microsoft.DotNet.Interactive.Commands;
using Microsoft.DotNet.Interactive.CSharp;
using Microsoft.DotNet.Interactive.Events;

namespace Microsoft.ML.NEFTune.Tests.MLNet;

/// <summary>
/// Runs the examples in a .NET Interactive C# kernel so that they cannot rot: the C# cells of
/// <c>examples/NeftuneQuickstart.ipynb</c> as Polyglot Notebooks would, and the console sample's code.
/// </summary>
public class ExampleTests
{
    private static string ExamplePath(params string[] parts)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (!File.Exists(Path.Combine(dir.FullName, "Microsoft.ML.NEFTune.sln"))) continue;
            var path = Path.Combine(new[] { dir.FullName, "examples" }.Concat(parts).ToArray());
            if (File.Exists(path)) return path;
            throw new FileNotFoundException($"Example not found: {path}", path);
        }
        throw new DirectoryNotFoundException($"Could not find the repository root (Microsoft.ML.NEFTune.sln) above {AppContext.BaseDirectory}.");
    }

    private static CSharpKernel CreateKernel()
    {
        var kernel = new CSharpKernel();
        kernel.AddAssemblyReferences(AppDomain.CurrentDomain.GetAssemblies()
            .Where(a => !a.IsDynamic && a.Location.Length > 0)
            .Where(a => a.GetName().Name is { } n && (n.StartsWith("Microsoft.ML", StringComparison.Ordinal) || n.StartsWith("TorchSharp", StringComparison.Ordinal)))
            .Select(a => a.Location)
            .Append(typeof(NeftuneModel).Assembly.Location)
            .Append(typeof(Microsoft.ML.Transforms.Text.TextNormalizingEstimator).Assembly.Location)
            .Distinct());
        return kernel;
    }

    private static string Literal(string s) => "@\"" + s.Replace("\"", "\"\"") + "\"";

    /// <summary>The code cells: (source, tags), in order.</summary>
    private static List<(string Source, string[] Tags)> CodeCells(string path)
    {
        var notebook = JsonNode.Parse(File.ReadAllText(path))!;
        var cells = new List<(string, string[])>();
        foreach (var cell in notebook["cells"]!.AsArray())
        {
            if (cell!["cell_type"]!.GetValue<string>() != "code") continue;
            var language = cell["metadata"]?["polyglot_notebook"]?["kernelName"]?.GetValue<string>() ?? "csharp";
            Assert.Equal("csharp", language);
            var source = cell["source"] is JsonArray lines ? string.Concat(lines.Select(l => l!.GetValue<string>())) : cell["source"]!.GetValue<string>();
            var tags = cell["metadata"]?["tags"]?.AsArray().Select(t => t!.GetValue<string>()).ToArray() ?? Array.Empty<string>();
            cells.Add((source, tags));
        }
        return cells;
    }

    /// <summary>The cell without its <c>#r</c> lines: the test process already holds those assemblies and gives them to the kernel.</summary>
    private static string WithoutReferences(string source) =>
        string.Join('\n', source.Split('\n').Where(line => !line.TrimStart().StartsWith("#r ", StringComparison.Ordinal)));

    [Fact]
    public async Task QuickstartNotebookRunsAndReloadsToTheSameAnswers()
    {
        using var temp = new TempDirectory();
        var model = MLNetTestData.CreateTinyModel(temp["model"]);
        var cells = CodeCells(ExamplePath("NeftuneQuickstart.ipynb"));
        Assert.Contains(cells, c => c.Source.Contains("#r \"nuget: TorchSharp-cpu", StringComparison.Ordinal));
        Assert.Single(cells, c => c.Tags.Contains("parameters"));

        using var kernel = CreateKernel();
        var parameters = $"""
            modelPath = {Literal(model)};
            dataPath = {Literal(Fixtures.AlpacaDemo)};
            trainRows = 4;
            maxSteps = 1;
            batchSize = 4;
            maxLength = 64;
            maxNewTokens = 3;
            modelFile = {Literal(temp["assistant.zip"])};
            """;

        var events = new List<KernelEvent>();
        for (int i = 0; i < cells.Count; i++)
        {
            events.AddRange(await Run(kernel, WithoutReferences(cells[i].Source), $"cell {i + 1}"));
            if (cells[i].Tags.Contains("parameters")) await Run(kernel, parameters, "injected parameters");
        }

        // The live progress line: displayed once, then rewritten in place by the IProgress<TrainingProgress> reports.
        Assert.Single(events.OfType<DisplayedValueProduced>(), e => e.FormattedValues.Any(v => v.Value == "starting…"));
        Assert.Contains(events.OfType<DisplayedValueUpdated>(), e => e.FormattedValues.Any(v => v.Value.StartsWith("step 1/1  loss ", StringComparison.Ordinal)));
        Assert.True(kernel.TryGetValue<bool>("sameAnswers", out var same), "the notebook defines sameAnswers");
        Assert.True(same);
        Assert.True(File.Exists(temp["assistant.zip"]));
    }

    [Fact]
    public async Task MlNetPipelineSampleRunsAndReloadsToTheSameAnswers()
    {
        using var temp = new TempDirectory();
        var model = MLNetTestData.CreateTinyModel(temp["model"]);
        using var kernel = CreateKernel();

        await Run(kernel, File.ReadAllText(ExamplePath("MlNetPipeline", "NeftuneSample.cs")), "NeftuneSample.cs");
        await Run(kernel, $"""
            var output = new StringWriter();
            var same = NeftuneSample.Run({Literal(model)}, {Literal(Fixtures.AlpacaDemo)}, trainRows: 4, maxSteps: 1, maxLength: 64, maxNewTokens: 3,
                modelFile: {Literal(temp["assistant.zip"])}, output);
            var printed = output.ToString();
            """, "NeftuneSample.Run");

        Assert.True(kernel.TryGetValue<bool>("same", out var same) && same);
        Assert.True(kernel.TryGetValue<string>("printed", out var printed));
        Assert.Contains("step 1/1", printed);
        Assert.Contains("NeftuneModel.Save", printed);
        Assert.True(File.Exists(temp["assistant.zip"]));
    }

    private static async Task<IReadOnlyList<KernelEvent>> Run(CSharpKernel kernel, string code, string what)
    {
        var result = await kernel.SendAsync(new SubmitCode(code));
        var failure = result.Events.OfType<CommandFailed>().FirstOrDefault();
        Assert.True(failure is null, $"{what} failed: {failure?.Message}\n{failure?.Exception}\n--- code ---\n{code}");
        return result.Events;
    }
}
