#!/usr/bin/env python3
"""PyTorch peer of `neftune bench`: trains a Llama of the same shape on the same token batches and times each step.

The model is the Hugging Face Llama computation written out in plain PyTorch (tied embedding/output head, RMSNorm,
rotate-half rotary embeddings, causal attention, SwiGLU MLP), trained as the .NET trainer trains it: next-token
cross-entropy summed over labelled positions and divided by their count, optional NEFTune noise on the embeddings,
gradient clipping to norm 1, torch.optim.AdamW (no weight decay), one micro-batch per step.

Input: --tokens FILE of little-endian int64 token ids, steps x batch x seq, row-major (written by `neftune bench`).
Output: one JSON object on standard output. When PyTorch cannot be imported it still prints one object,
{"available": false, "reason": ...}, and exits 0.
"""
import argparse
import json
import math
import statistics
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokens", required=True, help="int64 token ids, steps x batch x seq")
    p.add_argument("--steps", type=int, required=True, help="steps in the token file")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--dim", type=int, default=288)
    p.add_argument("--ffn", type=int, default=768)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--heads", type=int, default=6)
    p.add_argument("--kv-heads", type=int, default=6)
    p.add_argument("--eps", type=float, default=1e-5)
    p.add_argument("--rope-theta", type=float, default=10000.0)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--noise-alpha", type=float, default=0.0, help="NEFTune alpha; 0 = off")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads; 0 = leave the default")
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args()


def loaded_blas():
    """The BLAS library this process has mapped (Debian's torch links the libblas.so.3 alternative), or the build's."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
        if paths:
            return ", ".join(sorted(paths))
    except OSError:
        pass
    return None


def main():
    args = parse_args()
    try:
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
    except Exception as e:  # ImportError, or a broken installation
        print(json.dumps({"available": False, "reason": f"PyTorch cannot be imported by {sys.executable}: {e}"}))
        return 0

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    hs = args.dim // args.heads
    sdpa = getattr(F, "scaled_dot_product_attention", None)

    class RMSNorm(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(d))

        def forward(self, x):
            return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + args.eps))

    def rotate_half(x):
        x1, x2 = x[..., : hs // 2], x[..., hs // 2:]
        return torch.cat((-x2, x1), dim=-1)

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.q_proj = nn.Linear(args.dim, args.heads * hs, bias=False)
            self.k_proj = nn.Linear(args.dim, args.kv_heads * hs, bias=False)
            self.v_proj = nn.Linear(args.dim, args.kv_heads * hs, bias=False)
            self.o_proj = nn.Linear(args.heads * hs, args.dim, bias=False)

        def forward(self, x, cos, sin, mask):
            B, T, _ = x.shape
            q = self.q_proj(x).view(B, T, args.heads, hs).transpose(1, 2)
            k = self.k_proj(x).view(B, T, args.kv_heads, hs).transpose(1, 2)
            v = self.v_proj(x).view(B, T, args.kv_heads, hs).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            if args.kv_heads != args.heads:
                k = k.repeat_interleave(args.heads // args.kv_heads, dim=1)
                v = v.repeat_interleave(args.heads // args.kv_heads, dim=1)
            if sdpa is not None:
                y = sdpa(q, k, v, is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
                att = att.masked_fill(mask, float("-inf")).softmax(-1)
                y = att @ v
            return self.o_proj(y.transpose(1, 2).reshape(B, T, args.heads * hs))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.input_layernorm = RMSNorm(args.dim)
            self.self_attn = Attention()
            self.post_attention_layernorm = RMSNorm(args.dim)
            self.gate_proj = nn.Linear(args.dim, args.ffn, bias=False)
            self.up_proj = nn.Linear(args.dim, args.ffn, bias=False)
            self.down_proj = nn.Linear(args.ffn, args.dim, bias=False)

        def forward(self, x, cos, sin, mask):
            h = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
            m = self.post_attention_layernorm(h)
            return h + self.down_proj(F.silu(self.gate_proj(m)) * self.up_proj(m))

    class Llama(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed_tokens = nn.Embedding(args.vocab, args.dim)
            self.layers = nn.ModuleList(Block() for _ in range(args.layers))
            self.norm = RMSNorm(args.dim)
            inv = 1.0 / (args.rope_theta ** (torch.arange(0, hs, 2, dtype=torch.float32) / hs))
            freqs = torch.arange(args.seq, dtype=torch.float32)[:, None] * inv[None, :]
            emb = torch.cat((freqs, freqs), dim=-1)
            self.register_buffer("cos", emb.cos(), persistent=False)
            self.register_buffer("sin", emb.sin(), persistent=False)
            self.register_buffer("mask", torch.ones(args.seq, args.seq, dtype=torch.bool).triu(1), persistent=False)
            for name, p in self.named_parameters():
                if name.endswith("norm.weight"):
                    nn.init.ones_(p)
                else:
                    nn.init.normal_(p, 0.0, 0.02)

        def forward(self, ids):
            h = self.embed_tokens(ids)
            if self.training and args.noise_alpha > 0:
                L, d = ids.shape[1], h.shape[-1]
                h = h + (torch.rand_like(h) * 2 - 1) * (args.noise_alpha / math.sqrt(L * d))
            for layer in self.layers:
                h = layer(h, self.cos, self.sin, self.mask)
            return F.linear(self.norm(h), self.embed_tokens.weight)

    model = Llama()
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    with open(args.tokens, "rb") as f:
        data = torch.frombuffer(bytearray(f.read()), dtype=torch.int64).view(args.steps, args.batch, args.seq)

    seconds, losses = [], []
    for step in range(args.steps):
        ids = data[step]
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        logits = model(ids)
        shift_logits = logits[:, :-1].reshape(-1, args.vocab)
        shift_labels = ids[:, 1:].reshape(-1)
        loss_sum = F.cross_entropy(shift_logits, shift_labels, ignore_index=-100, reduction="sum")
        count = max(int((shift_labels != -100).sum()), 1)
        (loss_sum / count).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss_sum.item() / count)
        seconds.append(time.perf_counter() - start)

    timed = seconds[args.warmup:] or seconds
    median = statistics.median(timed)
    print(json.dumps({
        "available": True,
        "torch_version": torch.__version__,
        "python_version": sys.version.split()[0],
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "parallel_info": torch.__config__.parallel_info().strip().splitlines()[:6],
        "sdpa": sdpa is not None,
        "blas": loaded_blas() or next((part.split("=")[1] for part in torch.__config__.show().replace(",", " ").split() if part.startswith("BLAS_INFO=")), "unknown"),
        "parameters": sum(p.numel() for p in model.parameters()),
        "tokens_per_step": args.batch * args.seq,
        "step_seconds": seconds,
        "step_seconds_median": median,
        "tokens_per_s": args.batch * args.seq / median,
        "losses": losses,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
