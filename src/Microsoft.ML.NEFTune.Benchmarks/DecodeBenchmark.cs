using System.Diagnostics;
using Microsoft.ML.NEFTune.Generation;
using Microsoft.ML.NEFTune.Modeling;

namespace Microsoft.ML.NEFTune.Benchmarks;

/// <summary>Greedy generation through <see cref="TextGenerator"/> with the KV cache: prompt prefill and per-token decoding.</summary>
public static class DecodeBenchmark
{
    /// <summary>
    /// Tokens/s of decoding one sequence and of prefilling its prompt. A prefill-only run (one new token) and a run
    /// that decodes <paramref name="newTokens"/> more are interleaved <paramref name="repetitions"/> times; decoding
    /// speed is the extra tokens over the median extra time, prefill speed the prompt over the median prefill time.
    /// <paramref name="betweenRuns"/> runs before each repetition, untimed.
    /// </summary>
    public static (double DecodeTokensPerSecond, double PrefillTokensPerSecond) Measure(LlamaForCausalLM model, int promptLength, int newTokens, int repetitions, long seed, Action? betweenRuns = null)
    {
        var random = new Random(unchecked((int)seed));
        var prompt = new[] { Enumerable.Range(0, promptLength).Select(i => i == 0 ? 1L : 3 + random.Next(model.Config.VocabSize - 3)).ToArray() };
        var generator = new TextGenerator(model);
        GenerationOptions Options(int n) => new() { MaxNewTokens = n, EosTokenIds = Array.Empty<int>(), UseCache = true };
        double Time(int n)
        {
            var clock = Stopwatch.StartNew();
            var output = generator.GenerateIds(prompt, Options(n));
            double seconds = clock.Elapsed.TotalSeconds;
            if (output[0].Length != n) throw new InvalidOperationException($"Generated {output[0].Length} tokens instead of {n}.");
            return seconds;
        }
        Time(1); Time(newTokens + 1);                                            // warm up
        var prefill = new List<double>();
        var full = new List<double>();
        for (int r = 0; r < repetitions; r++)
        {
            betweenRuns?.Invoke();
            prefill.Add(Time(1));
            full.Add(Time(newTokens + 1));
        }
        double prefillSeconds = Statistics.Median(prefill);
        double decodeSeconds = Math.Max(Statistics.Median(full) - prefillSeconds, 1e-9);
        return (newTokens / decodeSeconds, promptLength / prefillSeconds);
    }
}
