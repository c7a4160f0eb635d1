#!/usr/bin/env python3
"""Writes a random-weight Hugging Face Llama checkpoint of a real model's shape (no download needed).

Shapes:
  tinyllama-1.1b  TinyLlama-1.1B: vocab 32000, hidden 2048, ffn 5632, 22 layers, 32 heads / 4 key-value heads,
                  untied head; 1,100,048,384 parameters.
  llama3.2-1b     Llama-3.2-1B: vocab 128256, hidden 2048, ffn 8192, 16 layers, 32 / 8 heads, head_dim 64, tied
                  embeddings, llama3 rope scaling; 1,235,814,400 parameters.
  small           The same generator at a tiny shape (the unit test's fixture).

Weights are normal(0, 0.02) (norms 1) from numpy's PCG64 with the given seed, stored in bfloat16 (round to nearest
even) or float32, cut into shards of at most --shard-mb megabytes with model.safetensors.index.json as
transformers' save_pretrained writes them. One tensor is in memory at a time. Uses numpy only.

  python3 eng/scale/make_checkpoint.py --shape tinyllama-1.1b --out /tmp/neftune-scale/tinyllama-1.1b
"""
import argparse, json, os, struct, sys
import numpy as np

SHAPES = {
    "tinyllama-1.1b": dict(vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
                           num_attention_heads=32, num_key_value_heads=4, tie_word_embeddings=False,
                           max_position_embeddings=2048, rope_theta=10000.0, rms_norm_eps=1e-5,
                           bos_token_id=1, eos_token_id=2),
    "llama3.2-1b": dict(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                        num_attention_heads=32, num_key_value_heads=8, head_dim=64, tie_word_embeddings=True,
                        max_position_embeddings=131072, rope_theta=500000.0, rms_norm_eps=1e-5,
                        rope_scaling=dict(factor=32.0, high_freq_factor=4.0, low_freq_factor=1.0,
                                          original_max_position_embeddings=8192, rope_type="llama3"),
                        bos_token_id=128000, eos_token_id=128001),
    "small": dict(vocab_size=512, hidden_size=64, intermediate_size=172, num_hidden_layers=3,
                  num_attention_heads=8, num_key_value_heads=4, tie_word_embeddings=False,
                  max_position_embeddings=512, rope_theta=10000.0, rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2),
}


def tensor_list(c):
    """(name, shape) in the order transformers' state dict lists them."""
    C, I, L = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"]
    hs = c.get("head_dim", C // c["num_attention_heads"])
    q, kv = c["num_attention_heads"] * hs, c["num_key_value_heads"] * hs
    out = [("model.embed_tokens.weight", (c["vocab_size"], C))]
    for i in range(L):
        p = f"model.layers.{i}."
        out += [(p + "self_attn.q_proj.weight", (q, C)), (p + "self_attn.k_proj.weight", (kv, C)),
                (p + "self_attn.v_proj.weight", (kv, C)), (p + "self_attn.o_proj.weight", (C, q)),
                (p + "mlp.gate_proj.weight", (I, C)), (p + "mlp.up_proj.weight", (I, C)),
                (p + "mlp.down_proj.weight", (C, I)),
                (p + "input_layernorm.weight", (C,)), (p + "post_attention_layernorm.weight", (C,))]
    out.append(("model.norm.weight", (C,)))
    if not c["tie_word_embeddings"]:
        out.append(("lm_head.weight", (c["vocab_size"], C)))
    return out


def to_bf16_bits(x):
    """float32 array -> uint16 bfloat16 bit patterns, round to nearest even (finite inputs)."""
    u = x.astype(np.float32).view(np.uint32)
    rounding = ((u >> 16) & 1) + 0x7FFF
    return ((u + rounding) >> 16).astype(np.uint16)


def values(rng, name, shape):
    if name.endswith("norm.weight"):
        return np.ones(shape, dtype=np.float32)
    return rng.standard_normal(size=shape, dtype=np.float32) * np.float32(0.02)


def write_shard(path, entries, dtype, rng):
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    size = 2 if dtype == "BF16" else 4
    for name, shape in entries:
        n = int(np.prod(shape)) * size
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for name, shape in entries:
            v = values(rng, name, shape)
            f.write((to_bf16_bits(v) if dtype == "BF16" else v).tobytes())
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=sorted(SHAPES), required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dtype", choices=["bfloat16", "float32"], default="bfloat16")
    ap.add_argument("--shard-mb", type=float, default=1000.0, help="largest shard in MB (default 1000: 3 shards for TinyLlama)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    c = dict(SHAPES[a.shape])
    os.makedirs(a.out, exist_ok=True)
    st = "BF16" if a.dtype == "bfloat16" else "F32"
    size = 2 if st == "BF16" else 4
    tensors = tensor_list(c)
    shards, current, current_bytes, limit = [], [], 0, a.shard_mb * 1e6
    for name, shape in tensors:
        n = int(np.prod(shape)) * size
        if current and current_bytes + n > limit:
            shards.append(current); current, current_bytes = [], 0
        current.append((name, shape)); current_bytes += n
    shards.append(current)
    rng = np.random.Generator(np.random.PCG64(a.seed))
    weight_map, total = {}, 0
    for k, entries in enumerate(shards):
        file = f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors"
        write_shard(os.path.join(a.out, file), entries, st, rng)
        for name, shape in entries:
            weight_map[name] = file
            total += int(np.prod(shape)) * size
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
              "initializer_range": 0.02, "attention_bias": False, "torch_dtype": a.dtype, **c}
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    params = sum(int(np.prod(s)) for _, s in tensors)
    print(json.dumps({"shape": a.shape, "parameters": params, "bytes": total, "shards": len(shards), "out": a.out}))


if __name__ == "__main__":
    sys.exit(main())
