using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.Modeling;

/// <summary>
/// One decoding step of a bfloat16 or float32 Llama-family model (<see cref="LlamaModel"/>) for a single sequence on the CPU,
/// written out in managed code as llama2.c's <c>run.c</c> writes it: the equations of <see cref="LlamaDecoderLayer"/>,
/// <see cref="LlamaAttention"/> and <see cref="LlamaMLP"/> over one token, the activations in float32, every weight
/// streamed once by <see cref="SingleRowProduct"/>, and keys and values written into the same <see cref="KVCache"/>
/// the module path fills (so prefill runs through the modules and the following tokens here). Per layer it makes four
/// product dispatches (q/k/v, o, gate/up, down) and one for attention, where the module path makes about forty
/// libtorch calls, which cost about a fifth of each token of a 1.1B model.
/// <see cref="TryCreate"/> returns null for anything it does not compute exactly as the modules do: OPT, LoRA or
/// quantized projections, float16 or mixed weights, rotary scaling that depends on the sequence length.
/// </summary>
internal sealed unsafe class SingleTokenDecoder : IDisposable
{
    /// <summary>Below this many multiply-adds (≈ 50 µs) attention runs on the calling thread.</summary>
    private const long ParallelAttentionWork = 1 << 17;

    private sealed record Layer(IntPtr InputNorm, IntPtr PostNorm, StreamedWeight[] Qkv, StreamedWeight[] O, StreamedWeight[] GateUp,
        StreamedWeight[] Down, IntPtr Keys, IntPtr Values);

    private readonly KVCache cache;
    private readonly Layer[] layers;
    private readonly IntPtr embedding, norm;
    private readonly StreamedWeight[] head;
    private readonly List<Tensor> held;                       // the tensors whose storage the pointers above read
    private readonly int C, I, nh, nkv, hs, vocab;
    private readonly int? slidingWindow;
    private readonly bool float32;                           // weights and cache in float32, else bfloat16
    private readonly float eps;
    private readonly float[] inverseFrequencies;
    private readonly float* x, normed, qkv, attended, gateUp, scores, cos, sin;   // float32 scratch in one block
    private readonly void* scratch;

    private SingleTokenDecoder(LlamaConfig config, KVCache cache, Dictionary<string, Tensor> p, List<Tensor> held)
    {
        (C, I, nh, nkv, hs, vocab) = (config.HiddenSize, config.IntermediateSize, config.NumAttentionHeads, config.NumKeyValueHeads, config.HeadDim, config.VocabSize);
        (this.cache, this.held, slidingWindow, eps) = (cache, held, config.SlidingWindow, (float)config.RmsNormEps);
        float32 = p["model.embed_tokens.weight"].dtype == ScalarType.Float32;
        inverseFrequencies = new LlamaRotaryEmbedding(config).InverseFrequencies(1).Select(f => (float)f).ToArray();
        IntPtr Ptr(string name) => p.TryGetValue(name, out var t) ? (IntPtr)CpuKernel.Pointer<byte>(t) : IntPtr.Zero;
        StreamedWeight W(string name) => new(Ptr(name + ".weight"), Ptr(name + ".bias"), p[name + ".weight"].shape[0], p[name + ".weight"].shape[1], float32);
        layers = Enumerable.Range(0, config.NumHiddenLayers).Select(i =>
        {
            string a = $"model.layers.{i}.self_attn.", m = $"model.layers.{i}.mlp.";
            var (k, v) = cache.Buffers(i);
            return new Layer(Ptr($"model.layers.{i}.input_layernorm.weight"), Ptr($"model.layers.{i}.post_attention_layernorm.weight"),
                new[] { W(a + "q_proj"), W(a + "k_proj"), W(a + "v_proj") }, new[] { W(a + "o_proj") },
                new[] { W(m + "gate_proj"), W(m + "up_proj") }, new[] { W(m + "down_proj") },
                (IntPtr)CpuKernel.Pointer<byte>(k), (IntPtr)CpuKernel.Pointer<byte>(v));
        }).ToArray();
        embedding = Ptr("model.embed_tokens.weight");
        norm = Ptr("model.norm.weight");
        head = new[] { p.ContainsKey("lm_head.weight") ? W("lm_head") : W("model.embed_tokens") };
        long floats = 2L * C + (nh + 2L * nkv) * hs + nh * hs + 2L * I + nh * cache.Capacity + hs;
        scratch = NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);
        x = (float*)scratch; normed = x + C; qkv = normed + C; attended = qkv + (nh + 2 * nkv) * hs; gateUp = attended + nh * hs;
        scores = gateUp + 2L * I; cos = scores + nh * cache.Capacity; sin = cos + hs / 2;
    }

    /// <summary>
    /// A decoder over <paramref name="model"/>'s parameters and <paramref name="cache"/> (batch 1), or null when the model
    /// or cache is not one it computes as the modules do, or the CPU has no 256- or 512-bit vectors. Every parameter and
    /// the cache must be of one dtype, bfloat16 or float32, contiguous and on the CPU.
    /// </summary>
    public static SingleTokenDecoder? TryCreate(LlamaForCausalLM model, KVCache cache)
    {
        var config = model.Config;
        if (config.Opt is not null || model.Model is not LlamaModel || model.Model.EmbedTokens is not Embedding || !SingleRowProduct.Accelerated) return null;
        if (new LlamaRotaryEmbedding(config).DependsOnLength) return null;
        if (cache.Buffers(0).Keys.shape[0] != 1) return null;                                 // one sequence
        var p = model.named_parameters().ToDictionary(e => e.name, e => (Tensor)e.parameter);
        var dtype = model.Model.EmbeddingWeight.dtype;
        if (dtype is not (ScalarType.BFloat16 or ScalarType.Float32)) return null;
        bool Fits(Tensor t) => t.dtype == dtype && t.device_type == DeviceType.CPU && t.is_contiguous() && t.numel() * t.ElementSize <= int.MaxValue;
        var expected = ExpectedNames(config).ToList();
        if (p.Count != expected.Count(n => !n.Optional) + expected.Count(n => n.Optional && p.ContainsKey(n.Name))) return null;   // LoRA, quantized
        foreach (var (name, optional) in expected)
        {
            if (!p.TryGetValue(name, out var t)) { if (optional) continue; return null; }
            if (!Fits(t)) return null;
        }
        var buffers = Enumerable.Range(0, config.NumHiddenLayers).SelectMany(i => { var (k, v) = cache.Buffers(i); return new[] { k, v }; }).ToList();
        if (!buffers.All(Fits)) return null;
        return new SingleTokenDecoder(config, cache, p, p.Values.Concat(buffers).ToList());
    }

    private static IEnumerable<(string Name, bool Optional)> ExpectedNames(LlamaConfig config)
    {
        yield return ("model.embed_tokens.weight", false);
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            string l = $"model.layers.{i}.";
            yield return (l + "input_layernorm.weight", false);
            yield return (l + "post_attention_layernorm.weight", false);
            foreach (var proj in new[] { "q_proj", "k_proj", "v_proj", "o_proj" })
            {
                yield return (l + "self_attn." + proj + ".weight", false);
                yield return (l + "self_attn." + proj + ".bias", true);
            }
            foreach (var proj in new[] { "gate_proj", "up_proj", "down_proj" }) yield return (l + "mlp." + proj + ".weight", false);
        }
        yield return ("model.norm.weight", false);
        if (!config.TieWordEmbeddings) yield return ("lm_head.weight", false);
    }

    /// <summary>
    /// Logits (1, V) float32 of the token after <paramref name="token"/>, which sits at position <c>cache.Length</c>;
    /// its keys and values are appended to the cache.
    /// </summary>
    public Tensor NextTokenLogits(long token)
    {
        long pos = cache.Length;
        if (pos >= cache.Capacity) throw new InvalidOperationException($"KV cache capacity {cache.Capacity} exceeded ({pos} + 1).");
        if ((ulong)token >= (ulong)vocab) throw new ArgumentOutOfRangeException(nameof(token), $"token id {token} is outside the vocabulary of {vocab}");
        for (int i = 0; i < hs / 2; i++) (sin[i], cos[i]) = MathF.SinCos(pos * inverseFrequencies[i]);   // angles pos·θᵢ in float32, as the modules
        for (int i = 0; i < C; i++) x[i] = Element(embedding, token * C + i);               // h = embed[token]
        foreach (var layer in layers)
        {
            RmsNorm(x, layer.InputNorm, normed);                                            // ln(h)
            SingleRowProduct.Products(layer.Qkv, normed, qkv);                              // [q; k; v] = [Wq; Wk; Wv]·ln(h) + b
            float* q = qkv, k = qkv + nh * hs, v = k + nkv * hs;
            for (int h = 0; h < nh; h++) Rotate(q + h * hs);                                // RoPE
            for (int h = 0; h < nkv; h++) Rotate(k + h * hs);
            Store(layer, k, v, pos);                                                        // cache ← k, v
            Attend(layer, q, pos);                                                          // softmax(q·Kᵀ/√hs)·V
            SingleRowProduct.Products(layer.O, attended, normed);
            Add(x, normed, C);                                                              // h = h + o·attn
            RmsNorm(x, layer.PostNorm, normed);                                             // ln(h)
            SingleRowProduct.Products(layer.GateUp, normed, gateUp);                        // [g; u]
            for (int i = 0; i < I; i++) gateUp[i] = gateUp[i] / (1 + MathF.Exp(-gateUp[i])) * gateUp[I + i];   // silu(g)·u
            SingleRowProduct.Products(layer.Down, gateUp, normed);
            Add(x, normed, C);                                                              // h = h + down(·)
        }
        cache.Advance(1);
        RmsNorm(x, norm, normed);
        var logits = empty(1, vocab, ScalarType.Float32);                                   // (1, V)
        SingleRowProduct.Products(head, normed, CpuKernel.Pointer<float>(logits));
        GC.KeepAlive(held);
        return logits;
    }

    /// <summary>y = x / sqrt(mean(x²) + eps) · weight.</summary>
    private void RmsNorm(float* input, IntPtr weight, float* y)
    {
        double squares = 0;
        for (int i = 0; i < C; i++) squares += (double)input[i] * input[i];
        float scale = (float)(1 / Math.Sqrt(squares / C + eps));
        for (int i = 0; i < C; i++) y[i] = input[i] * scale * Element(weight, i);
    }

    /// <summary>x' = x·cos + rotate_half(x)·sin for one head of hs values.</summary>
    private void Rotate(float* head)
    {
        int half = hs / 2;
        for (int i = 0; i < half; i++)
        {
            float a = head[i], b = head[i + half];
            head[i] = a * cos[i] - b * sin[i];
            head[i + half] = b * cos[i] + a * sin[i];
        }
    }

    private void Store(Layer layer, float* k, float* v, long pos)
    {
        for (int h = 0; h < nkv; h++)
        {
            long at = (h * cache.Capacity + pos) * hs;
            for (int i = 0; i < hs; i++) { SetElement(layer.Keys, at + i, k[h * hs + i]); SetElement(layer.Values, at + i, v[h * hs + i]); }
        }
    }

    /// <summary>Each query head attends to positions [start, pos] of its key/value head (grouped as <c>repeat_interleave</c> groups them).</summary>
    private void Attend(Layer layer, float* q, long pos)
    {
        long start = slidingWindow is int w ? Math.Max(0, pos - w + 1) : 0, count = pos - start + 1;
        var (qs, keys, values) = ((IntPtr)q, layer.Keys, layer.Values);
        CpuKernel.ForRanges(nh, (h0, h1) => { for (long h = h0; h < h1; h++) AttendHead((float*)qs, keys, values, (int)h, start, count); },
            minimumPerRange: nh * count * hs >= ParallelAttentionWork ? 1 : nh);
    }

    private void AttendHead(float* q, IntPtr keys, IntPtr values, int h, long start, long count)
    {
        long group = h / (nh / nkv), capacity = cache.Capacity;
        float* qh = q + h * hs, s = scores + h * capacity, y = attended + h * hs;
        long first = (group * capacity + start) * hs;
        float scale = 1 / MathF.Sqrt(hs), max = float.NegativeInfinity, sum = 0;
        for (long j = 0; j < count; j++) { s[j] = Dot(keys, first + j * hs, qh, hs) * scale; max = Math.Max(max, s[j]); }
        for (long j = 0; j < count; j++) { s[j] = MathF.Exp(s[j] - max); sum += s[j]; }
        for (int i = 0; i < hs; i++) y[i] = 0;
        for (long j = 0; j < count; j++)
        {
            if (float32) AddScaled(y, s[j] / sum, (float*)values + first + j * hs, hs);
            else AddScaled(y, s[j] / sum, (ushort*)values + first + j * hs, hs);
        }
    }

    private float Element(IntPtr p, long i) => float32 ? ((float*)p)[i] : CpuKernel.Widen(((ushort*)p)[i]);

    private void SetElement(IntPtr p, long i, float value)
    {
        if (float32) ((float*)p)[i] = value;
        else ((ushort*)p)[i] = CpuKernel.ToBFloat16(value);
    }

    private float Dot(IntPtr p, long offset, float* x, int n) =>
        float32 ? SingleRowProduct.Dot((float*)p + offset, x, n) : SingleRowProduct.Dot((ushort*)p + offset, x, n);

    /// <summary>y += a · widen(v) over n values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddScaled(float* y, float a, ushort* v, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (var av = Vector512.Create(a); i + 16 <= n; i += 16)
                Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(Vector512.WidenLower(Vector256.Load(v + i).ToVector512()), 16).AsSingle(), av, Vector512.Load(y + i)).Store(y + i);
        else if (Vector256.IsHardwareAccelerated)
            for (var av = Vector256.Create(a); i + 8 <= n; i += 8)
                Vector256.FusedMultiplyAdd(Vector256.ShiftLeft(Vector256.WidenLower(Vector128.Load(v + i).ToVector256()), 16).AsSingle(), av, Vector256.Load(y + i)).Store(y + i);
        for (; i < n; i++) y[i] += a * CpuKernel.Widen(v[i]);
    }

    /// <summary>y += a · v over n values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddScaled(float* y, float a, float* v, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (var av = Vector512.Create(a); i + 16 <= n; i += 16)
                Vector512.FusedMultiplyAdd(Vector512.Load(v + i), av, Vector512.Load(y + i)).Store(y + i);
        else if (Vector256.IsHardwareAccelerated)
            for (var av = Vector256.Create(a); i + 8 <= n; i += 8)
                Vector256.FusedMultiplyAdd(Vector256.Load(v + i), av, Vector256.Load(y + i)).Store(y + i);
        for (; i < n; i++) y[i] += a * v[i];
    }

    private static void Add(float* y, float* a, int n)
    {
        for (int i = 0; i < n; i++) y[i] += a[i];
    }

    public void Dispose() => NativeMemory.AlignedFree(scratch);
}
