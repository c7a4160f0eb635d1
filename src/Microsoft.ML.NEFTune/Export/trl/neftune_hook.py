"""NEFTune noise with Microsoft.ML.NEFTune's semantics, as a forward hook for Hugging Face models.

Differences from transformers' built-in ``neftune_noise_alpha`` (which scales by the padded, or with packing the whole
flattened, batch length): here ``L`` is each sequence's own number of real tokens, taken from the attention mask or,
for padding-free batches, from ``position_ids`` (a new sequence starts wherever the position is 0); padding gets no
noise; noise is added only in training mode. Kinds: ``uniform`` (U(-1,1)·s, the paper) and ``gaussian`` (N(0,1)·s),
with ``s = alpha / sqrt(L·d)`` and ``d`` the embedding size.
"""
import functools
import math

import torch

KINDS = ("uniform", "gaussian")


def sequence_scale(shape, alpha, attention_mask=None, position_ids=None):
    """Per-position scale s = alpha / sqrt(L·d) as a (B, T, 1) tensor, 0 on padding."""
    B, T, d = shape
    if position_ids is not None and attention_mask is None:
        # Padding-free batch: every position is real; a sequence starts where its position id is 0.
        starts = (position_ids == 0).long()
        starts[:, 0] = 1
        seq = torch.cumsum(starts, dim=1)                                   # (B, T) sequence number 1, 2, ...
        real = torch.ones(B, T, dtype=torch.long, device=position_ids.device)
    elif attention_mask is not None:
        real = (attention_mask != 0).long()
        seq = real                                                          # one sequence per row
    else:
        real = torch.ones(B, T, dtype=torch.long)
        seq = real
    seq = seq * real
    counts = torch.zeros(B, int(seq.max()) + 1, dtype=torch.float32, device=seq.device)
    counts.scatter_add_(1, seq, torch.ones(B, T, dtype=torch.float32, device=seq.device))
    lengths = counts.gather(1, seq)                                         # (B, T) own sequence's length
    scale = alpha / math.sqrt(d) * lengths.rsqrt() * real.float()
    return scale.unsqueeze(-1)


def neftune_noise(embeds, alpha, kind="uniform", attention_mask=None, position_ids=None, generator=None):
    """The noise δ (same shape as embeds, float32) for a batch of token embeddings (B, T, d)."""
    if kind not in KINDS:
        raise ValueError(f"unknown noise kind {kind!r} (known: {', '.join(KINDS)})")
    scale = sequence_scale(tuple(embeds.shape), alpha, attention_mask, position_ids).to(embeds.device)
    if kind == "uniform":
        u = torch.rand(embeds.shape, generator=generator, dtype=torch.float32, device=embeds.device) * 2 - 1
    else:
        u = torch.randn(embeds.shape, generator=generator, dtype=torch.float32, device=embeds.device)
    return u * scale


def install_neftune(model, alpha, kind="uniform", generator=None):
    """Adds NEFTune noise to model.get_input_embeddings() while model.training; returns a function that removes it."""
    if alpha < 0 or not math.isfinite(alpha):
        raise ValueError("alpha must be a finite number >= 0")
    if kind not in KINDS:
        raise ValueError(f"unknown noise kind {kind!r} (known: {', '.join(KINDS)})")
    context = {}
    original_forward = model.forward

    @functools.wraps(original_forward)
    def forward(*args, **kwargs):
        context["attention_mask"] = kwargs.get("attention_mask")
        context["position_ids"] = kwargs.get("position_ids")
        try:
            return original_forward(*args, **kwargs)
        finally:
            context.clear()

    def hook(module, inputs, output):
        if not model.training or alpha == 0:
            return output
        delta = neftune_noise(output, alpha, kind, context.get("attention_mask"), context.get("position_ids"), generator)
        return output + delta.to(output.dtype)

    model.forward = forward
    handle = model.get_input_embeddings().register_forward_hook(hook)

    def remove():
        handle.remove()
        model.forward = original_forward

    return remove
