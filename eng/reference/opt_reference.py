#!/usr/bin/env python3
"""Tiny random OPT checkpoints and their expected outputs, computed in float64 with NumPy.

Written from the semantics of Hugging Face transformers' models/opt/modeling_opt.py (OPTLearnedPositionalEmbedding
with its offset of 2 and positions from the cumulative attention mask, OPTAttention with q scaled by head_dim^-0.5,
OPTDecoderLayer in its pre- and post-LayerNorm forms, OPTDecoder with project_in/project_out and the optional final
LayerNorm, OPTForCausalLM's tied head). It shares no code with the library.

Run:  /usr/bin/python3 eng/reference/opt_reference.py
Writes test/Microsoft.ML.NEFTune.Tests/References/opt/<case>/{config.json,model.safetensors} and reference.json.
"""
import json
import os
import struct

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "Microsoft.ML.NEFTune.Tests", "References", "opt")


def save_safetensors(path, tensors):
    """Minimal safetensors writer: 8-byte little-endian header size, JSON header, raw float32 data."""
    header, offset, blobs = {}, 0, []
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def layer_norm(x, w, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    y = (x - mu) / np.sqrt(var + 1e-5)
    return y * w + b if w is not None else y


def linear(x, p, name):
    y = x @ p[name + ".weight"].T
    return y + p[name + ".bias"] if name + ".bias" in p else y


def forward(p, cfg, ids, mask):
    """Logits (B, T, V) for input ids (B, T) with attention mask (B, T) (1 = real token), as OPTForCausalLM."""
    d = "model.decoder."
    B, T = ids.shape
    C, H = cfg["hidden_size"], cfg["num_attention_heads"]
    hs = C // H
    x = p[d + "embed_tokens.weight"][ids]                                   # (B, T, E)
    positions = np.cumsum(mask, axis=1) * mask - 1                           # padding gets -1
    pos = p[d + "embed_positions.weight"][positions + 2]                     # offset 2
    if d + "project_in.weight" in p:
        x = x @ p[d + "project_in.weight"].T
    h = x + pos                                                              # (B, T, C)
    causal = np.tril(np.ones((T, T), dtype=bool))
    allowed = causal[None, :, :] & (mask[:, None, :] == 1)                   # (B, T, T)
    before = cfg["do_layer_norm_before"]
    for i in range(cfg["num_hidden_layers"]):
        l = f"{d}layers.{i}."
        ln1 = lambda t: layer_norm(t, p.get(l + "self_attn_layer_norm.weight"), p.get(l + "self_attn_layer_norm.bias"))
        ln2 = lambda t: layer_norm(t, p.get(l + "final_layer_norm.weight"), p.get(l + "final_layer_norm.bias"))
        residual = h
        a = ln1(h) if before else h
        q = linear(a, p, l + "self_attn.q_proj") * hs ** -0.5
        k = linear(a, p, l + "self_attn.k_proj")
        v = linear(a, p, l + "self_attn.v_proj")
        q, k, v = (t.reshape(B, T, H, hs).transpose(0, 2, 1, 3) for t in (q, k, v))
        scores = q @ k.transpose(0, 1, 3, 2)                                 # (B, H, T, T)
        scores = np.where(allowed[:, None], scores, np.finfo(np.float64).min)
        scores = scores - scores.max(-1, keepdims=True)
        w = np.exp(scores)
        w = w / w.sum(-1, keepdims=True)
        o = (w @ v).transpose(0, 2, 1, 3).reshape(B, T, C)
        h = residual + linear(o, p, l + "self_attn.out_proj")
        if not before:
            h = ln1(h)
        residual = h
        f = ln2(h) if before else h
        f = linear(np.maximum(linear(f, p, l + "fc1"), 0), p, l + "fc2")
        h = residual + f
        if not before:
            h = ln2(h)
    if before and not cfg.get("_remove_final_layer_norm", False):
        h = layer_norm(h, p.get(d + "final_layer_norm.weight"), p.get(d + "final_layer_norm.bias"))
    if d + "project_out.weight" in p:
        h = h @ p[d + "project_out.weight"].T
    return h @ p[d + "embed_tokens.weight"].T                                # tied head


def greedy(p, cfg, prompt, n):
    ids = list(prompt)
    out = []
    for _ in range(n):
        arr = np.array([ids])
        nxt = int(np.argmax(forward(p, cfg, arr, np.ones_like(arr))[0, -1]))
        out.append(nxt)
        ids.append(nxt)
    return out


def make_case(name, cfg, layout, seed):
    rng = np.random.default_rng(seed)
    C, E, F, V = cfg["hidden_size"], cfg["word_embed_proj_dim"], cfg["ffn_dim"], cfg["vocab_size"]
    d = "model.decoder."
    r = lambda *shape: rng.normal(0, 0.3, shape).astype(np.float32)
    p = {d + "embed_tokens.weight": r(V, E), d + "embed_positions.weight": r(cfg["max_position_embeddings"] + 2, C)}
    if E != C:
        p[d + "project_in.weight"] = r(C, E)
        p[d + "project_out.weight"] = r(E, C)
    for i in range(cfg["num_hidden_layers"]):
        l = f"{d}layers.{i}."
        for proj in ("k_proj", "v_proj", "q_proj", "out_proj"):
            p[l + f"self_attn.{proj}.weight"] = r(C, C)
            p[l + f"self_attn.{proj}.bias"] = r(C)
        p[l + "fc1.weight"], p[l + "fc1.bias"] = r(F, C), r(F)
        p[l + "fc2.weight"], p[l + "fc2.bias"] = r(C, F), r(C)
        for ln in ("self_attn_layer_norm", "final_layer_norm"):
            p[l + ln + ".weight"] = (1 + 0.2 * rng.standard_normal(C)).astype(np.float32)
            p[l + ln + ".bias"] = r(C)
    if cfg["do_layer_norm_before"]:
        p[d + "final_layer_norm.weight"] = (1 + 0.2 * rng.standard_normal(C)).astype(np.float32)
        p[d + "final_layer_norm.bias"] = r(C)
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    if layout == "model.decoder":                 # OPT-125m/1.3b: model.decoder.* plus a copy of the tied head
        stored = dict(p)
        stored["lm_head.weight"] = p[d + "embed_tokens.weight"].copy()
    else:                                         # OPT-350m/6.7b/13b: decoder.*, no head
        stored = {k[len("model."):]: v for k, v in p.items()}
    save_safetensors(os.path.join(folder, "model.safetensors"), stored)
    config = dict(cfg, model_type="opt", architectures=["OPTForCausalLM"], activation_function="relu",
                  bos_token_id=2, eos_token_id=2, pad_token_id=1, dropout=0.1, attention_dropout=0.0,
                  enable_bias=True, layer_norm_elementwise_affine=True, torch_dtype="float32")
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)

    p64 = {k: v.astype(np.float64) for k, v in p.items()}
    ids = [2] + [int(t) for t in rng.integers(3, V, 11)]               # starts with </s>, OPT's BOS
    logits = forward(p64, cfg, np.array([ids]), np.ones((1, len(ids)), dtype=np.int64))[0]
    # A left-padded batch of two prompts (pad id 1), positions from the attention mask as HF computes them.
    short, long_ = ids[:5], ids
    batch = np.array([[1] * (len(long_) - len(short)) + short, long_])
    mask = np.array([[0] * (len(long_) - len(short)) + [1] * len(short), [1] * len(long_)])
    batch_logits = forward(p64, cfg, batch, mask)[:, -1]
    result = {
        "input_ids": ids,
        "logits": logits.tolist(),
        "greedy_prompt": ids[:4],
        "greedy": greedy(p64, cfg, ids[:4], 12),
        "greedy_from_bos": greedy(p64, cfg, [2], 8),
        "padded_prompts": [short, long_],
        "padded_last_logits": batch_logits.tolist(),
    }
    return result


def main():
    base = dict(vocab_size=48, hidden_size=32, ffn_dim=40, num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=40)
    cases = {
        # pre-LayerNorm, embedding size = hidden size, final LayerNorm, model.decoder.* keys with lm_head.weight
        "pre-ln": (dict(base, do_layer_norm_before=True, word_embed_proj_dim=32), "model.decoder", 11),
        # post-LayerNorm (OPT-350m), 16-wide embedding with project_in/project_out, decoder.* keys without a head
        "post-ln-project": (dict(base, do_layer_norm_before=False, word_embed_proj_dim=16), "decoder", 12),
    }
    reference = {}
    for name, (cfg, layout, seed) in cases.items():
        reference[name] = make_case(name, cfg, layout, seed)
        assert reference[name]["greedy_from_bos"][0] != 2, "pick another seed: greedy from </s> must not stop at once"
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(reference, f)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
