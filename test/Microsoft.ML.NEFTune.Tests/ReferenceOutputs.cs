using System.Text.Json;

namespace Microsoft.ML.NEFTune.Tests;

/// <summary>The float64 reference outputs of the stories260K fixture model.</summary>
public sealed class ReferenceOutputs
{
    public required long[] InputIds { get; init; }
    public required double[][] Logits { get; init; }
    public required long[] GreedyFromBos { get; init; }

    public static ReferenceOutputs Load()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.StoriesReference));
        var root = doc.RootElement;
        return new ReferenceOutputs
        {
            InputIds = root.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt64()).ToArray(),
            Logits = root.GetProperty("logits").EnumerateArray().Select(r => r.EnumerateArray().Select(e => e.GetDouble()).ToArray()).ToArray(),
            GreedyFromBos = root.GetProperty("greedy_from_bos").EnumerateArray().Select(e => e.GetInt64()).ToArray(),
        };
    }
}
