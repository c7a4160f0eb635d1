#!/usr/bin/python3
"""Float64 NumPy reference for the model config variants, written from the Hugging Face `transformers` sources
(modeling_llama.py, modeling_mistral.py, modeling_qwen2.py, modeling_phi3.py, modeling_rope_utils.py and the
sliding-window mask of masking_utils.py). It shares no code with the C# library.

For each variant it writes, under test/Microsoft.ML.NEFTune.Tests/Fixtures/variants/NAME/:
  config.json        a Hugging Face config of that family
  model.safetensors  small random weights in the HF state-dict layout of that family, stored in the config's dtype
  expected.json      float64 outputs computed from exactly the stored (rounded) weights:
                       input_ids, logits[t][v] of one forward pass without cache,
                       cached_logits[t][v]: the first `prefill` positions in one pass, then one position per pass
                         with a key/value cache (keys are rotated when they are computed, as HF's cache keeps them),
                       prompt, greedy_uncached / greedy_cached: argmax decoding of `max_new_tokens` ids (no EOS stop)
                         recomputing the whole sequence each step / with the cache,
                       min_margin: the smallest top-1 minus top-2 logit gap met while decoding.

Run from the repository root:  /usr/bin/python3 eng/reference/model_variants.py
"""
import json
import math
import os
import struct
import sys

import numpy as np

OUT = os.path.join("test", "Microsoft.ML.NEFTune.Tests", "Fixtures", "variants")

BASE = dict(vocab_size=32, hidden_size=32, intermediate_size=32, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-5, rope_theta=10000.0,
            hidden_act="silu", bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)

VARIANTS = {
    # plain Llama, float32 file, separate output head
    "llama-f32": dict(model_type="llama", architectures=["LlamaForCausalLM"], torch_dtype="float32"),
    # explicit head_dim (4 heads x 12 != 32), tied head, Llama 3.1 rope scaling, bfloat16 file
    "llama-bf16-llama3-headdim": dict(model_type="llama", architectures=["LlamaForCausalLM"], torch_dtype="bfloat16",
                                      head_dim=12, tie_word_embeddings=True,
                                      rope_scaling=dict(rope_type="llama3", factor=4.0, low_freq_factor=1.0,
                                                        high_freq_factor=4.0, original_max_position_embeddings=32)),
    # linear rope scaling, attention_bias (q/k/v/o biases), float16 file
    "llama-f16-linear-bias": dict(model_type="llama", architectures=["LlamaForCausalLM"], torch_dtype="float16",
                                  attention_bias=True, rope_scaling=dict(type="linear", factor=2.0)),
    # dynamic NTK rope: sequences longer than max_position_embeddings (12) change the base
    "llama-dynamic": dict(model_type="llama", architectures=["LlamaForCausalLM"], torch_dtype="bfloat16",
                          max_position_embeddings=12, rope_scaling=dict(rope_type="dynamic", factor=2.0)),
    # Mistral with a sliding window of 5 keys
    "mistral-swa": dict(model_type="mistral", architectures=["MistralForCausalLM"], torch_dtype="bfloat16",
                        sliding_window=5),
    # Qwen2: q/k/v biases, tied head; sliding_window is present but off (use_sliding_window false), as in Qwen2.5
    "qwen2-bias-tied": dict(model_type="qwen2", architectures=["Qwen2ForCausalLM"], torch_dtype="bfloat16",
                            tie_word_embeddings=True, rope_theta=1000000.0, use_sliding_window=False,
                            sliding_window=4, max_window_layers=1),
    # Phi-3: fused qkv_proj and gate_up_proj, sliding window of 7 (Phi-3-mini-4k has 2047)
    "phi3-swa": dict(model_type="phi3", architectures=["Phi3ForCausalLM"], torch_dtype="bfloat16", sliding_window=7,
                     pad_token_id=0, attention_dropout=0.0, resid_pdrop=0.0, embd_pdrop=0.0),
    # Phi-3 128k style LongRoPE: short factors up to original_max_position_embeddings (16), long factors beyond
    "phi3-longrope": dict(model_type="phi3", architectures=["Phi3ForCausalLM"], torch_dtype="bfloat16",
                          max_position_embeddings=64, original_max_position_embeddings=16, sliding_window=262144,
                          rope_scaling=dict(type="longrope",
                                            short_factor=[1.0, 1.05, 1.2, 1.9],
                                            long_factor=[1.0, 1.6, 3.5, 7.25])),
}

PREFILL = 7
PROMPT_LENGTH = 6
MAX_NEW_TOKENS = 18
SEQUENCE_LENGTH = 20


# ---- dtype rounding and safetensors writing --------------------------------------------------------------------

def to_bf16_bits(a):
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16                      # round to nearest even
    return rounded.astype(np.uint16)


def from_bf16_bits(b):
    return (b.astype(np.uint32) << 16).view(np.float32)


def store(a, dtype):
    """Returns (bytes, safetensors dtype, the float64 values those bytes hold)."""
    if dtype == "float32":
        x = a.astype(np.float32)
        return x.tobytes(), "F32", x.astype(np.float64)
    if dtype == "float16":
        x = a.astype(np.float16)
        return x.tobytes(), "F16", x.astype(np.float64)
    if dtype == "bfloat16":
        bits = to_bf16_bits(a)
        return bits.tobytes(), "BF16", from_bf16_bits(bits).astype(np.float64)
    raise ValueError(dtype)


def write_safetensors(path, tensors, dtype):
    header, blobs, offset, exact = {}, [], 0, {}
    for name in sorted(tensors):
        data, st_dtype, values = store(tensors[name], dtype)
        header[name] = dict(dtype=st_dtype, shape=list(tensors[name].shape), data_offsets=[offset, offset + len(data)])
        blobs.append(data)
        offset += len(data)
        exact[name] = values
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    return exact


# ---- random weights in the HF layout of each family --------------------------------------------------------------

def make_weights(cfg, rng):
    C, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or C // nh
    phi3 = cfg["model_type"] == "phi3"
    qkv_bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
    o_bias = cfg.get("attention_bias", False)

    def lin(out_f, in_f):
        return rng.normal(0, 1 / math.sqrt(in_f), size=(out_f, in_f))

    w = {"model.embed_tokens.weight": rng.normal(0, 1, size=(V, C)),
         "model.norm.weight": 1 + 0.1 * rng.normal(size=C)}
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = rng.normal(0, 2 / math.sqrt(C), size=(V, C))
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = 1 + 0.1 * rng.normal(size=C)
        w[p + "post_attention_layernorm.weight"] = 1 + 0.1 * rng.normal(size=C)
        if phi3:
            w[p + "self_attn.qkv_proj.weight"] = lin(nh * hd + 2 * nkv * hd, C)
            w[p + "mlp.gate_up_proj.weight"] = lin(2 * I, C)
        else:
            w[p + "self_attn.q_proj.weight"] = lin(nh * hd, C)
            w[p + "self_attn.k_proj.weight"] = lin(nkv * hd, C)
            w[p + "self_attn.v_proj.weight"] = lin(nkv * hd, C)
            w[p + "mlp.gate_proj.weight"] = lin(I, C)
            w[p + "mlp.up_proj.weight"] = lin(I, C)
        if qkv_bias:
            w[p + "self_attn.q_proj.bias"] = rng.normal(0, 0.3, size=nh * hd)
            w[p + "self_attn.k_proj.bias"] = rng.normal(0, 0.3, size=nkv * hd)
            w[p + "self_attn.v_proj.bias"] = rng.normal(0, 0.3, size=nkv * hd)
        w[p + "self_attn.o_proj.weight"] = lin(C, nh * hd)
        if o_bias:
            w[p + "self_attn.o_proj.bias"] = rng.normal(0, 0.3, size=C)
        w[p + "mlp.down_proj.weight"] = lin(C, I)
    return w


# ---- the model, as transformers computes it --------------------------------------------------------------------

class Rope:
    """ROPE_INIT_FUNCTIONS + dynamic_rope_update of modeling_rope_utils.py."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
        scaling = cfg.get("rope_scaling") or {}
        self.kind = scaling.get("rope_type", scaling.get("type", "default"))
        if self.kind == "su":
            self.kind = "longrope"
        self.scaling = scaling

    def base_inv_freq(self, base):
        return 1.0 / base ** (np.arange(0, self.dim, 2, dtype=np.float64) / self.dim)

    def inv_freq(self, seq_len):
        """(inverse frequencies, attention factor) for a forward pass whose largest position is seq_len - 1."""
        cfg, s, theta = self.cfg, self.scaling, self.cfg["rope_theta"]
        if self.kind == "default":
            return self.base_inv_freq(theta), 1.0
        if self.kind == "linear":
            return self.base_inv_freq(theta) / s["factor"], 1.0
        if self.kind == "dynamic":
            # dynamic_frequency_update: recomputed when seq_len exceeds max_position_embeddings, else the original
            max_pos, factor = cfg["max_position_embeddings"], s["factor"]
            if seq_len <= max_pos:
                return self.base_inv_freq(theta), 1.0
            base = theta * ((factor * seq_len / max_pos) - (factor - 1)) ** (self.dim / (self.dim - 2))
            return self.base_inv_freq(base), 1.0
        if self.kind == "llama3":
            inv = self.base_inv_freq(theta)
            factor, low, high = s["factor"], s["low_freq_factor"], s["high_freq_factor"]
            old = s["original_max_position_embeddings"]
            low_wavelen, high_wavelen = old / low, old / high
            wavelen = 2 * math.pi / inv
            scaled = np.where(wavelen > low_wavelen, inv / factor, inv)
            smooth = (old / wavelen - low) / (high - low)
            smoothed = (1 - smooth) * scaled / factor + smooth * scaled
            medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
            return np.where(medium, smoothed, scaled), 1.0
        if self.kind == "longrope":
            original = cfg.get("original_max_position_embeddings", cfg["max_position_embeddings"])
            factor = cfg["max_position_embeddings"] / original if "original_max_position_embeddings" in cfg else s.get("factor", 1.0)
            attention = s.get("attention_factor")
            if attention is None:
                attention = 1.0 if factor <= 1.0 else math.sqrt(1 + math.log(factor) / math.log(original))
            ext = np.array(s["long_factor"] if seq_len > original else s["short_factor"], dtype=np.float64)
            return 1.0 / (ext * theta ** (np.arange(0, self.dim, 2, dtype=np.float64) / self.dim)), attention
        raise ValueError(self.kind)

    def cos_sin(self, positions):
        inv, attention = self.inv_freq(int(positions.max()) + 1)
        freqs = positions[:, None].astype(np.float64) * inv[None, :]          # (T, d/2)
        emb = np.concatenate([freqs, freqs], axis=-1)                          # (T, d)
        return np.cos(emb) * attention, np.sin(emb) * attention


def rms_norm(x, weight, eps):
    return weight * (x / np.sqrt((x * x).mean(-1, keepdims=True) + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


def silu(x):
    return x / (1 + np.exp(-x))


def sliding_window(cfg):
    if cfg["model_type"] in ("mistral", "phi3"):
        return cfg.get("sliding_window")
    if cfg["model_type"] == "qwen2" and cfg.get("use_sliding_window"):
        raise ValueError("not modelled")
    return None


class Model:
    def __init__(self, cfg, w):
        self.cfg, self.w = cfg, w
        self.nh, self.nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
        self.hd = cfg.get("head_dim") or cfg["hidden_size"] // self.nh
        self.rope = Rope(cfg)
        self.window = sliding_window(cfg)

    def linear(self, x, name):
        y = x @ self.w[name + ".weight"].T
        b = self.w.get(name + ".bias")
        return y if b is None else y + b

    def attention(self, i, x, cos, sin, cache, past):
        p = f"model.layers.{i}.self_attn."
        T = x.shape[0]
        if self.cfg["model_type"] == "phi3":
            qkv = self.linear(x, p + "qkv_proj")
            qp, kp = self.nh * self.hd, self.nkv * self.hd
            q, k, v = qkv[:, :qp], qkv[:, qp:qp + kp], qkv[:, qp + kp:]
        else:
            q, k, v = self.linear(x, p + "q_proj"), self.linear(x, p + "k_proj"), self.linear(x, p + "v_proj")
        q = q.reshape(T, self.nh, self.hd).transpose(1, 0, 2)                 # (nh, T, hd)
        k = k.reshape(T, self.nkv, self.hd).transpose(1, 0, 2)                # (nkv, T, hd)
        v = v.reshape(T, self.nkv, self.hd).transpose(1, 0, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            if i in cache:
                k = np.concatenate([cache[i][0], k], axis=1)
                v = np.concatenate([cache[i][1], v], axis=1)
            cache[i] = (k, v)
        S = k.shape[1]
        rep = self.nh // self.nkv
        k, v = np.repeat(k, rep, axis=0), np.repeat(v, rep, axis=0)          # repeat_kv
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(self.hd)               # (nh, T, S)
        qi = np.arange(past, past + T)[:, None]
        kj = np.arange(S)[None, :]
        allowed = kj <= qi
        if self.window is not None:
            allowed &= kj > qi - self.window                                 # i - W < j <= i
        scores = np.where(allowed[None], scores, -np.inf)
        scores = scores - scores.max(-1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(-1, keepdims=True)
        y = (probs @ v).transpose(1, 0, 2).reshape(T, self.nh * self.hd)
        return self.linear(y, p + "o_proj")

    def mlp(self, i, x):
        p = f"model.layers.{i}.mlp."
        if self.cfg["model_type"] == "phi3":
            gate, up = np.split(self.linear(x, p + "gate_up_proj"), 2, axis=-1)
            return self.linear(up * silu(gate), p + "down_proj")
        return self.linear(silu(self.linear(x, p + "gate_proj")) * self.linear(x, p + "up_proj"), p + "down_proj")

    def forward(self, ids, cache=None, past=0):
        eps = self.cfg["rms_norm_eps"]
        h = self.w["model.embed_tokens.weight"][np.array(ids)]
        cos, sin = self.rope.cos_sin(np.arange(past, past + len(ids)))
        for i in range(self.cfg["num_hidden_layers"]):
            p = f"model.layers.{i}."
            h = h + self.attention(i, rms_norm(h, self.w[p + "input_layernorm.weight"], eps), cos, sin, cache, past)
            h = h + self.mlp(i, rms_norm(h, self.w[p + "post_attention_layernorm.weight"], eps))
        h = rms_norm(h, self.w["model.norm.weight"], eps)
        head = self.w["model.embed_tokens.weight"] if self.cfg["tie_word_embeddings"] else self.w["lm_head.weight"]
        return h @ head.T                                                       # (T, V)


def margin(row):
    top = np.sort(row)[-2:]
    return float(top[1] - top[0])


def greedy(model, prompt, n, cached):
    ids, margins, cache = list(prompt), [], {}
    for step in range(n):
        if cached:
            logits = model.forward(ids, cache, 0) if step == 0 else model.forward(ids[-1:], cache, len(ids) - 1)
        else:
            logits = model.forward(ids)
        row = logits[-1]
        margins.append(margin(row))
        ids.append(int(np.argmax(row)))
    return ids[len(prompt):], min(margins)


def main():
    for index, (name, extra) in enumerate(VARIANTS.items()):
        cfg = dict(BASE, **extra)
        rng = np.random.default_rng(1000 + index)
        weights = make_weights(cfg, rng)
        directory = os.path.join(OUT, name)
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
        exact = write_safetensors(os.path.join(directory, "model.safetensors"), weights, cfg["torch_dtype"])
        model = Model(cfg, exact)

        ids = [int(x) for x in rng.integers(3, cfg["vocab_size"], size=SEQUENCE_LENGTH)]
        logits = model.forward(ids)
        cache = {}
        rows = [model.forward(ids[:PREFILL], cache, 0)]
        for t in range(PREFILL, len(ids)):
            rows.append(model.forward(ids[t:t + 1], cache, t))
        cached_logits = np.concatenate(rows, axis=0)
        prompt = ids[:PROMPT_LENGTH]
        greedy_uncached, m1 = greedy(model, prompt, MAX_NEW_TOKENS, cached=False)
        greedy_cached, m2 = greedy(model, prompt, MAX_NEW_TOKENS, cached=True)

        def rounded(a):
            return [[round(float(x), 7) for x in row] for row in a]

        expected = dict(input_ids=ids, logits=rounded(logits), prefill=PREFILL, cached_logits=rounded(cached_logits),
                        prompt=prompt, max_new_tokens=MAX_NEW_TOKENS, greedy_uncached=greedy_uncached,
                        greedy_cached=greedy_cached, min_margin=round(min(m1, m2), 6))
        with open(os.path.join(directory, "expected.json"), "w") as f:
            json.dump(expected, f, separators=(",", ":"))
            f.write("\n")
        differs = float(np.abs(logits - cached_logits).max())
        print(f"{name}: min greedy margin {min(m1, m2):.4f}, |logits - cached_logits| max {differs:.3g}, "
              f"greedy cached == uncached: {greedy_cached == greedy_uncached}")
        if min(m1, m2) < 1e-3:
            sys.exit(f"{name}: greedy decoding meets a near tie ({min(m1, m2)}); float32 cannot be compared on it")


if __name__ == "__main__":
    main()
