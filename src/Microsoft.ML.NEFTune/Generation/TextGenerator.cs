using Microsoft.ML.NEFTune.IO.Tokenizers;
using Microsoft.ML.NEFTune.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Generation;

/// <summary>
/// Autoregressive decoding with a <see cref="LlamaForCausalLM"/>: greedy or sampled, batched prompts with left
/// padding, KV cache. The model runs in evaluation mode, so NEFTune noise is never applied here.
/// </summary>
public sealed class TextGenerator
{
    private readonly LlamaForCausalLM model;
    private readonly TextTokenizer? tokenizer;

    public TextGenerator(LlamaForCausalLM model, TextTokenizer? tokenizer = null)
    {
        this.model = model ?? throw new ArgumentNullException(nameof(model));
        this.tokenizer = tokenizer;
    }

    /// <summary>Generates a completion for each prompt (text in, text out; BOS added when the tokenizer asks for it).</summary>
    public IReadOnlyList<string> Generate(IReadOnlyList<string> prompts, GenerationOptions? options = null)
    {
        var tok = tokenizer ?? throw new InvalidOperationException("Text generation needs a tokenizer; use GenerateIds for token ids.");
        options ??= new GenerationOptions();
        var ids = prompts.Select(p => Encode(tok, p)).ToList();
        var outputs = GenerateIds(ids, options);
        return outputs.Select(o => CutAtStop(tok.Decode(o.Select(i => (int)i)), options.StopStrings)).ToList();
    }

    public string Generate(string prompt, GenerationOptions? options = null) => Generate(new[] { prompt }, options)[0];

    private static long[] Encode(TextTokenizer tok, string prompt)
    {
        var ids = tok.Encode(prompt).Select(i => (long)i);
        return (tok.AddBosToken && tok.BosId is int bos ? ids.Prepend(bos) : ids).ToArray();
    }

    /// <summary>Generated ids only (prompt excluded, EOS excluded), one array per prompt.</summary>
    public IReadOnlyList<long[]> GenerateIds(IReadOnlyList<long[]> prompts, GenerationOptions? options = null)
        => GenerateIds(prompts, options, onToken: null, CancellationToken.None);

    /// <summary>
    /// Generated ids only (prompt excluded, EOS excluded), one array per prompt. <paramref name="onToken"/> sees every
    /// kept token as soon as it is chosen: the prompt's index and the id. Cancellation is checked before every token.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public IReadOnlyList<long[]> GenerateIds(IReadOnlyList<long[]> prompts, GenerationOptions? options, Action<int, long>? onToken, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        options ??= new GenerationOptions();
        options.Validate();
        if (prompts.Count == 0) return Array.Empty<long[]>();
        if (prompts.Any(p => p.Length == 0)) throw new ArgumentException("Every prompt needs at least one token (e.g. BOS).", nameof(prompts));
        int B = prompts.Count, P = prompts.Max(p => p.Length), N = options.MaxNewTokens;
        if (P + N > model.Config.MaxPositionEmbeddings && model.Config.RopeScaling is null)
            N = Math.Max(0, model.Config.MaxPositionEmbeddings - P);
        var eos = (options.EosTokenIds ?? model.Config.EosTokenIds).Select(i => (long)i).ToHashSet();
        var outputs = Enumerable.Range(0, B).Select(_ => new List<long>()).ToArray();
        var finished = new bool[B];
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            using var outer = NewDisposeScope();
            var device = model.Model.EmbeddingWeight.device;
            var tokens = zeros(B, P + N, ScalarType.Int64, device);                      // left-padded prompts, then generated
            var sequence = zeros(B, P + N, ScalarType.Int64, device);                    // 1 = real token, 0 = padding
            for (int b = 0; b < B; b++)
            {
                long pad = P - prompts[b].Length;
                tokens[b].narrow(0, pad, prompts[b].Length).copy_(tensor(prompts[b], device: device));
                sequence[b].narrow(0, pad, P + N - pad).fill_(1);
            }
            bool padded = prompts.Any(p => p.Length != P);
            var seen = zeros(B, model.Config.VocabSize, ScalarType.Bool, device);
            seen.scatter_(1, tokens.narrow(1, 0, P), ones(B, P, ScalarType.Bool, device));
            using var cache = options.UseCache ? new KVCache(model.Config, B, P + N, model.Model.EmbeddingWeight.dtype, device) : null;
            using var generator = new Generator((ulong)options.Seed, device);
            var head = model.HeadWeight;                                                    // (V, C)
            using var stepper = B == 1 && cache is not null ? SingleTokenDecoder.TryCreate(model, cache) : null;   // tokens after the prompt
            bool oneRowHead = B == 1 && (stepper is not null || SingleRowProduct.Streams(head));   // one prefill row, or the row kernel
            using var headTransposed = oneRowHead ? null : head.detach().t().contiguous();  // (C, V): faster for many single-row products
            for (int step = 0; step < N && !finished.All(f => f); step++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                long length = P + step;
                var input = cache is null || step == 0 ? tokens.narrow(1, 0, length) : tokens.narrow(1, length - 1, 1);
                var seq = padded ? sequence.narrow(1, 0, length) : null;
                var logits = stepper is not null && step > 0 ? stepper.NextTokenLogits(outputs[0][^1])
                    : model.NextTokenLogits(input, seq, cache, headTransposed).to_type(ScalarType.Float32);         // (B, V)
                logits = LogitsProcessing.PenalizeRepeats(logits, seen, options.RepetitionPenalty);
                var next = LogitsProcessing.Choose(logits, options, generator);                             // (B)
                tokens.select(1, length).copy_(next);
                seen.scatter_(1, next.unsqueeze(1), ones(B, 1, ScalarType.Bool, device));
                var chosen = next.cpu().data<long>().ToArray();
                for (int b = 0; b < B; b++)
                {
                    if (finished[b]) continue;
                    if (eos.Contains(chosen[b])) { finished[b] = true; continue; }
                    outputs[b].Add(chosen[b]);
                    onToken?.Invoke(b, chosen[b]);
                    if (options.StopStrings.Count > 0 && tokenizer is not null && HitsStop(outputs[b], options.StopStrings)) finished[b] = true;
                }
            }
        }
        finally
        {
            model.train(wasTraining);
        }
        return outputs.Select(o => o.ToArray()).ToArray();
    }

    /// <summary>
    /// Generates a completion of <paramref name="prompt"/> token by token: each element is the text the newest token
    /// adds, and the elements concatenate to <see cref="Generate(string, GenerationOptions?)"/>'s result for the same
    /// options. Text that may be the start of a stop string or of an unfinished UTF-8 character is held back until it
    /// is settled. Decoding runs on a worker thread; breaking out of the loop or cancelling stops it before its next token.
    /// </summary>
    public IAsyncEnumerable<string> GenerateStreamingAsync(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var tok = tokenizer ?? throw new InvalidOperationException("Text generation needs a tokenizer; use GenerateIds for token ids.");
        options ??= new GenerationOptions();
        options.Validate();
        return StreamText(Encode(tok, prompt), options, new StreamingTextDecoder(tok, options.StopStrings, trim: false), gate: null, cancellationToken);
    }

    /// <summary>
    /// Streams the text of one prompt's completion: <see cref="GenerateIds(IReadOnlyList{long[]}, GenerationOptions?, Action{int, long}?, CancellationToken)"/>
    /// runs on a worker thread (holding <paramref name="gate"/> when given) and each piece of text that
    /// <paramref name="decoder"/> settles is handed over a channel.
    /// </summary>
    internal async IAsyncEnumerable<string> StreamText(long[] prompt, GenerationOptions options, StreamingTextDecoder decoder, object? gate,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var channel = System.Threading.Channels.Channel.CreateUnbounded<string>(new System.Threading.Channels.UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var worker = Task.Factory.StartNew(() =>
        {
            try
            {
                void Run() => GenerateIds(new[] { prompt }, options, (_, id) =>
                {
                    if (decoder.Add((int)id) is { Length: > 0 } piece) channel.Writer.TryWrite(piece);
                }, stop.Token);
                if (gate is null) Run();
                else lock (gate) Run();
                if (decoder.Finish() is { Length: > 0 } rest) channel.Writer.TryWrite(rest);
                channel.Writer.TryComplete();
            }
            catch (Exception e)
            {
                channel.Writer.TryComplete(e);
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            await foreach (var piece in channel.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                cancellationToken.ThrowIfCancellationRequested();
                yield return piece;
            }
        }
        finally
        {
            stop.Cancel();
            try { await worker.ConfigureAwait(false); }
            catch (OperationCanceledException) { }
        }
        cancellationToken.ThrowIfCancellationRequested();
    }

    private bool HitsStop(List<long> ids, IReadOnlyList<string> stops)
    {
        var text = tokenizer!.Decode(ids.Select(i => (int)i));
        return stops.Any(s => text.Contains(s, StringComparison.Ordinal));
    }

    private static string CutAtStop(string text, IReadOnlyList<string> stops)
    {
        foreach (var s in stops)
        {
            int i = text.IndexOf(s, StringComparison.Ordinal);
            if (i >= 0) text = text[..i];
        }
        return text;
    }
}
