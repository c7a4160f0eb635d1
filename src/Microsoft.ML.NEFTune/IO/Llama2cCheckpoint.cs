using System.Numerics;
using Microsoft.ML.NEFTune.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.NEFTune.IO;

/// <summary>
/// Loads llama2.c "version 0" checkpoints: seven int32 header fields (dim, hidden_dim, n_layers, n_heads,
/// n_kv_heads, vocab_size — negative when the classifier is not shared —, seq_len), then float32 weights.
/// Adjacent-pair RoPE rows of wq/wk are permuted to the rotate-half layout, as Hugging Face's conversion does.
/// </summary>
public static class Llama2cCheckpoint
{
    public static LlamaForCausalLM Load(string path, ModelLoadOptions? options = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint not found: {path}", path);
        using var stream = File.OpenRead(path);
        if (stream.Length < 28) throw new ModelFormatException(path, $"truncated: {stream.Length} bytes, shorter than the 28-byte header");
        var header = new int[7];
        var headerBytes = new byte[28];
        stream.ReadExactly(headerBytes);
        Buffer.BlockCopy(headerBytes, 0, header, 0, 28);
        int dim = header[0], hidden = header[1], layers = header[2], heads = header[3], kvHeads = header[4], vocab = header[5], seqLen = header[6];
        if (vocab == int.MinValue) throw new ModelFormatException(path, $"invalid header: vocab_size must be positive, got {vocab}");
        bool shared = vocab > 0;
        vocab = Math.Abs(vocab);
        var config = new LlamaConfig
        {
            HiddenSize = dim, IntermediateSize = hidden, NumHiddenLayers = layers, NumAttentionHeads = heads, NumKeyValueHeads = kvHeads,
            VocabSize = vocab, MaxPositionEmbeddings = seqLen, HeadDim = heads > 0 && dim % heads == 0 ? dim / heads : -1,
            RmsNormEps = 1e-5, RopeTheta = 10000, TieWordEmbeddings = shared, BosTokenId = 1, EosTokenIds = new[] { 2 },
        };
        try { config.Validate(path); }
        catch (ModelFormatException e) { throw new ModelFormatException(path, $"invalid header: {e.Problem}"); }

        long kvDim = (long)kvHeads * config.HeadDim, hs = config.HeadDim;
        long L = layers;
        var sizes = new (string Name, long[] Shape)[]
        {
            ("tok", new long[] { vocab, dim }), ("rms_att", new[] { L, dim }), ("wq", new[] { L, dim, dim }), ("wk", new[] { L, kvDim, dim }),
            ("wv", new[] { L, kvDim, dim }), ("wo", new[] { L, dim, dim }), ("rms_ffn", new[] { L, dim }), ("w1", new[] { L, hidden, dim }),
            ("w2", new[] { L, dim, hidden }), ("w3", new[] { L, hidden, dim }), ("rms_final", new long[] { dim }),
            ("freq_cis", new long[] { seqLen, hs }), // real and imaginary halves, skipped
        };
        var elements = sizes.Aggregate(BigInteger.Zero, (sum, s) => sum + s.Shape.Aggregate(BigInteger.One, (a, b) => a * b)) + (shared ? 0 : (BigInteger)vocab * dim);
        var expected = 28 + 4 * elements;
        if (stream.Length != expected)
            throw new ModelFormatException(path, $"file is {stream.Length} bytes but the header (dim={dim}, layers={layers}, vocab={vocab}, shared={shared}) implies {expected}");

        var w = new Dictionary<string, Tensor>();
        try
        {
            foreach (var (name, shape) in sizes)
            {
                var t = empty(shape, ScalarType.Float32);
                TensorBytes.ReadInto(t, stream, t.numel() * 4);
                w[name] = t;
            }
            if (!shared)
            {
                var t = empty(new long[] { vocab, dim }, ScalarType.Float32);
                TensorBytes.ReadInto(t, stream, t.numel() * 4);
                w["wcls"] = t;
            }
            var state = new Dictionary<string, Tensor> { ["model.embed_tokens.weight"] = w["tok"], ["model.norm.weight"] = w["rms_final"] };
            if (!shared) state["lm_head.weight"] = w["wcls"];
            for (int i = 0; i < layers; i++)
            {
                string p = $"model.layers.{i}.";
                state[p + "input_layernorm.weight"] = w["rms_att"][i];
                state[p + "self_attn.q_proj.weight"] = PermuteToRotateHalf(w["wq"][i], heads);
                state[p + "self_attn.k_proj.weight"] = PermuteToRotateHalf(w["wk"][i], kvHeads);
                state[p + "self_attn.v_proj.weight"] = w["wv"][i];
                state[p + "self_attn.o_proj.weight"] = w["wo"][i];
                state[p + "post_attention_layernorm.weight"] = w["rms_ffn"][i];
                state[p + "mlp.gate_proj.weight"] = w["w1"][i];
                state[p + "mlp.down_proj.weight"] = w["w2"][i];
                state[p + "mlp.up_proj.weight"] = w["w3"][i];
            }
            var model = new LlamaForCausalLM(config);
            StateDictLoader.Load(model, config, path, state.Keys, name => state[name].alias());
            foreach (var t in state.Values) t.Dispose();
            return HuggingFaceCheckpoint.Place(model, options ?? ModelLoadOptions.Default);
        }
        finally
        {
            foreach (var t in w.Values) t.Dispose();
        }
    }

    /// <summary>
    /// Rows of a q/k projection ordered (head, pair, 2) — llama2.c's interleaved RoPE — reordered to
    /// (head, 2, pair), the rotate-half layout: <c>w.view(nh, hs/2, 2, C).transpose(1, 2).reshape(nh·hs, C)</c>.
    /// </summary>
    public static Tensor PermuteToRotateHalf(Tensor w, int heads)
    {
        long rows = w.shape[0], cols = w.shape[1];
        using var v = w.view(heads, rows / heads / 2, 2, cols);
        using var t = v.transpose(1, 2);
        return t.reshape(rows, cols);
    }
}
