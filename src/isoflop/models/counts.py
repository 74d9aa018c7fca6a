"""Training FLOPs per token, in three named conventions, for every family. Pure, no torch.

- ``6N`` (Kaplan et al.): 6 × non-embedding parameters.
- ``full`` (Hoffmann et al., Appendix F; unchanged, so every stored key and number stays): three times a forward
  pass that counts every block's projections and MLP (2 FLOPs per weight), attention scores and values (4·T·H·h),
  the softmax (3·H·T), the token embedding as if it were a matmul (2·V·d) and the LM head (2·V·d). On GPT-2 this is
  the paper's formula exactly; on small models the embedding term makes it ~2× what the hardware executes.
- ``matmul``: what the hardware executes in a training step of T-token sequences, per token: 6 × the weights the
  model multiplies by (every projection and MLP weight, and the head, tied or not) + 12·L·H·h·T (the attention's
  two matmuls over the whole T×T square, forward and backward). ``torch.utils.flop_counter.FlopCounterMode`` counts
  exactly this with eager attention (``tests/test_counts.py`` pins it per family); tokens/s and MFU use it.
"""

from __future__ import annotations

from ..errors import UsageError
from .specs import ModelFacts

FLOP_CONVENTIONS = ("6N", "full", "matmul")
MFU_CONVENTIONS = ("matmul", "full")  # model-FLOPs utilisation: what the hardware executes, and the paper's count
TRAIN_FLOPS_PER_PARAM_TOKEN = 6  # forward 2 FLOPs per weight and token, backward twice that
FORWARD_FLOPS_PER_PARAM_TOKEN = 2


def flops_per_token(facts: ModelFacts, seq_len: int, convention: str) -> float:
    """Training FLOPs per token of the model ``facts`` describes, trained on ``seq_len``-token sequences."""
    if convention not in FLOP_CONVENTIONS:
        raise UsageError(f"unknown FLOP convention {convention!r}; choose one of {', '.join(FLOP_CONVENTIONS)}")
    if convention == "6N":
        return float(TRAIN_FLOPS_PER_PARAM_TOKEN * facts.parameters.non_embedding)
    arch = facts.architecture
    if arch is None or facts.matmul is None:
        raise UsageError(f"the {convention!r} FLOP count needs the model's shape (layers, heads, widths), which its config "
                         "does not give; use --flop-convention 6N")
    attention_width = arch.n_head * arch.head_width
    if convention == "matmul":
        return float(TRAIN_FLOPS_PER_PARAM_TOKEN * facts.matmul + 12 * arch.n_layer * attention_width * seq_len)
    blocks = facts.matmul - arch.vocab_size * arch.n_embd  # the head is counted below, with the embedding
    forward = (2 * blocks + arch.n_layer * (4 * seq_len * attention_width + 3 * arch.n_head * seq_len)
               + 2 * 2 * arch.vocab_size * arch.n_embd)
    return float(3 * forward)


def every_convention(facts: ModelFacts, seq_len: int) -> dict[str, float]:
    """FLOPs per token under each convention the model's facts allow (``6N`` always)."""
    counts = {"6N": flops_per_token(facts, seq_len, "6N")}
    if facts.architecture is not None and facts.matmul is not None:
        counts |= {name: flops_per_token(facts, seq_len, name) for name in ("full", "matmul")}
    return counts


def evaluation_flops(train_flops_per_token: float, tokens: int) -> float:
    """FLOPs of evaluating ``tokens`` tokens: the forward pass, a third of a training pass (2 of 6)."""
    return train_flops_per_token * FORWARD_FLOPS_PER_PARAM_TOKEN / TRAIN_FLOPS_PER_PARAM_TOKEN * tokens


def utilisation(flop_counts: dict[str, float], tokens_per_second: float | None, peak_flops: float | None) -> dict[str, float]:
    """Model-FLOPs utilisation by convention: FLOPs per token × tokens per second / the device's peak (none without
    a known peak, e.g. on a CPU)."""
    if not peak_flops or not tokens_per_second:
        return {}
    return {name: flop_counts[name] * tokens_per_second / peak_flops for name in MFU_CONVENTIONS if name in flop_counts}
