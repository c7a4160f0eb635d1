#!/usr/bin/python3
"""Independent float64 reference for four optimizer steps of NeftuneTrainer (noise off), written from the Hugging Face
transformers source (LlamaForCausalLM, get_cosine_schedule_with_warmup) with Debian's python3-torch (1.13):

  * a one-layer Llama (RMSNorm, rotary embeddings with rotate_half, grouped-query attention, SwiGLU MLP, untied head);
  * response-only labels, the loss of a step = the sum of every labelled token's cross-entropy over all accumulated
    micro-batches divided by their count;
  * torch.optim.AdamW with norms excluded from weight decay, the cosine schedule with linear warmup (HF's lambda), and
    torch.nn.utils.clip_grad_norm_ active (the gradient norm exceeds max_grad_norm).

Every step covers all four examples (batch size 1, accumulation 4), so the trainer's data order does not matter.
Writes test/Microsoft.ML.NEFTune.Tests/Training/TrainerReference.json: config, settings, examples, the initial weights
(float32 values), the learning rate and pre-clipping gradient norm of each step, and the final weights (float64).

    /usr/bin/python3 eng/reference/trainer_reference.py
"""
import json
import math
import os

import torch

torch.set_default_dtype(torch.float64)
CONFIG = dict(vocab_size=24, hidden_size=16, intermediate_size=24, num_hidden_layers=1, num_attention_heads=4,
              num_key_value_heads=2, head_dim=4, rms_norm_eps=1e-5, rope_theta=10000.0, max_position_embeddings=64)
SETTINGS = dict(learning_rate=2e-2, weight_decay=0.1, adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-3,
                warmup_ratio=0.25, epochs=4, batch_size=1, gradient_accumulation_steps=4, max_grad_norm=0.5)
# (input ids, number of leading positions without a label)
EXAMPLES = [([1, 5, 9, 4, 13, 14, 15, 2], 4), ([1, 7, 3, 3, 20, 8, 9, 10, 11, 2], 5),
            ([1, 22, 6, 17, 18, 2], 3), ([1, 12, 4, 19, 5, 6, 7, 8, 9, 10, 11, 2], 6)]


def names():
    c = CONFIG
    layer = "model.layers.0."
    return {
        "model.embed_tokens.weight": (c["vocab_size"], c["hidden_size"]),
        layer + "input_layernorm.weight": (c["hidden_size"],),
        layer + "self_attn.q_proj.weight": (c["num_attention_heads"] * c["head_dim"], c["hidden_size"]),
        layer + "self_attn.k_proj.weight": (c["num_key_value_heads"] * c["head_dim"], c["hidden_size"]),
        layer + "self_attn.v_proj.weight": (c["num_key_value_heads"] * c["head_dim"], c["hidden_size"]),
        layer + "self_attn.o_proj.weight": (c["hidden_size"], c["num_attention_heads"] * c["head_dim"]),
        layer + "post_attention_layernorm.weight": (c["hidden_size"],),
        layer + "mlp.gate_proj.weight": (c["intermediate_size"], c["hidden_size"]),
        layer + "mlp.up_proj.weight": (c["intermediate_size"], c["hidden_size"]),
        layer + "mlp.down_proj.weight": (c["hidden_size"], c["intermediate_size"]),
        "model.norm.weight": (c["hidden_size"],),
        "lm_head.weight": (c["vocab_size"], c["hidden_size"]),
    }


def rms_norm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + CONFIG["rms_norm_eps"]) * w


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def forward(p, ids):
    """Logits (T, V) of one unpadded sequence."""
    c = CONFIG
    T, H, KV, D = len(ids), c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    x = p["model.embed_tokens.weight"][torch.tensor(ids)]                        # (T, d)
    layer = "model.layers.0."
    h = rms_norm(x, p[layer + "input_layernorm.weight"])
    q = (h @ p[layer + "self_attn.q_proj.weight"].T).view(T, H, D).transpose(0, 1)   # (H, T, D)
    k = (h @ p[layer + "self_attn.k_proj.weight"].T).view(T, KV, D).transpose(0, 1)  # (KV, T, D)
    v = (h @ p[layer + "self_attn.v_proj.weight"].T).view(T, KV, D).transpose(0, 1)
    inv_freq = 1.0 / (c["rope_theta"] ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)                                      # (T, D)
    cos, sin = emb.cos(), emb.sin()
    q = q * cos + rotate_half(q) * sin
    k = k * cos + rotate_half(k) * sin
    k = k.repeat_interleave(H // KV, dim=0)                                      # HF repeat_kv
    v = v.repeat_interleave(H // KV, dim=0)
    scores = q @ k.transpose(-1, -2) / math.sqrt(D)
    scores = scores.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
    attn = (scores.softmax(-1) @ v).transpose(0, 1).reshape(T, H * D)
    x = x + attn @ p[layer + "self_attn.o_proj.weight"].T
    h = rms_norm(x, p[layer + "post_attention_layernorm.weight"])
    mlp = torch.nn.functional.silu(h @ p[layer + "mlp.gate_proj.weight"].T) * (h @ p[layer + "mlp.up_proj.weight"].T)
    x = x + mlp @ p[layer + "mlp.down_proj.weight"].T
    return rms_norm(x, p["model.norm.weight"]) @ p["lm_head.weight"].T


def main():
    generator = torch.Generator().manual_seed(20240607)
    shapes = names()
    initial = {}
    for name, shape in shapes.items():
        if name.endswith("norm.weight"):
            t = 1.0 + 0.1 * torch.randn(shape, generator=generator, dtype=torch.float32)
        else:
            t = 0.2 * torch.randn(shape, generator=generator, dtype=torch.float32)
        initial[name] = t.to(torch.float64)                                      # float32 values, exactly
    params = {n: t.clone().requires_grad_(True) for n, t in initial.items()}

    s = SETTINGS
    decay = [params[n] for n in shapes if "norm" not in n]
    no_decay = [params[n] for n in shapes if "norm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": s["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=s["learning_rate"], betas=(s["adam_beta1"], s["adam_beta2"]), eps=s["adam_epsilon"])
    total = s["epochs"] * len(EXAMPLES) // (s["batch_size"] * s["gradient_accumulation_steps"])
    warmup = math.ceil(s["warmup_ratio"] * total)

    def lr_lambda(step):                                  # transformers.get_cosine_schedule_with_warmup, num_cycles 0.5
        if step < warmup:
            return float(step) / float(max(1, warmup))
        progress = float(step - warmup) / float(max(1, total - warmup))
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)
    labelled = sum(len(ids) - 1 - (skip - 1) for ids, skip in EXAMPLES)
    steps = []
    for step in range(total):
        opt.zero_grad()
        lr = scheduler.get_last_lr()[0]
        loss_sum = 0.0
        for ids, skip in EXAMPLES:
            logits = forward(params, ids)
            labels = torch.tensor([-100] * skip + ids[skip:])
            # shift: position t predicts label t + 1
            loss = torch.nn.functional.cross_entropy(logits[:-1], labels[1:], ignore_index=-100, reduction="sum")
            (loss / labelled).backward()
            loss_sum += loss.item()
        norm = torch.nn.utils.clip_grad_norm_(list(params.values()), s["max_grad_norm"]).item()
        opt.step()
        scheduler.step()
        steps.append({"learning_rate": lr, "grad_norm": norm, "loss": loss_sum / labelled})
    assert any(x["grad_norm"] > s["max_grad_norm"] for x in steps), "clipping never acted; raise the learning rate"

    out = {
        "about": "Written by eng/reference/trainer_reference.py (python3-torch 1.13, float64); do not edit.",
        "config": CONFIG, "settings": s,
        "examples": [{"input_ids": ids, "unlabelled": skip} for ids, skip in EXAMPLES],
        "steps": steps,
        "initial": {n: t.flatten().tolist() for n, t in initial.items()},
        "final": {n: t.detach().flatten().tolist() for n, t in params.items()},
    }
    path = os.path.join(os.path.dirname(__file__), "..", "..", "test", "Microsoft.ML.NEFTune.Tests", "Training", "TrainerReference.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print(f"wrote {os.path.normpath(path)}: {total} steps, warmup {warmup}, grad norms {[round(x['grad_norm'], 4) for x in steps]}")


if __name__ == "__main__":
    main()
