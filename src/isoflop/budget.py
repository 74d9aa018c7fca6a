"""Compute accounting: forward+backward passes <-> optimizer steps <-> tokens <-> FLOPs.

FLOPs follow one of two conventions, recorded with every run: ``6N`` (Kaplan et al.)
or ``full`` (Hoffmann et al., Appendix F).

A *pass* is one training sample going forward and backward once. The classic budget
is 100 passes of 64-token samples at batch size 1, i.e. 100 optimizer steps.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UsageError
from .models.specs import Architecture

# FLOPs per parameter per token (Kaplan et al. 2020; Hoffmann et al. 2022): a forward
# pass costs ~2 multiply-adds-as-FLOPs per parameter, the backward pass twice that.
FORWARD_FLOPS_PER_PARAM_TOKEN = 2
TRAIN_FLOPS_PER_PARAM_TOKEN = 6


@dataclass(frozen=True)
class Budget:
    """A training budget in passes of ``seq_len``-token samples, taken ``batch_size`` at a time."""

    passes: int
    seq_len: int
    batch_size: int = 1

    def __post_init__(self) -> None:
        if self.passes <= 0:
            raise UsageError(f"the budget must be a positive number of passes, got {self.passes}")
        if self.seq_len <= 0:
            raise UsageError(f"seq_len must be positive, got {self.seq_len}")
        if self.batch_size <= 0:
            raise UsageError(f"batch_size must be positive, got {self.batch_size}")
        if self.passes % self.batch_size:
            raise UsageError(
                f"a budget of {self.passes} passes is not a whole number of steps at batch size "
                f"{self.batch_size}; choose passes divisible by the batch size"
            )

    @property
    def steps(self) -> int:
        """Optimizer steps: one per batch."""
        return self.passes // self.batch_size

    @property
    def tokens(self) -> int:
        """Training tokens processed (each pass is one full sample)."""
        return self.passes * self.seq_len

    def epochs(self, unique_samples: int) -> float:
        """How many times each of ``unique_samples`` is seen; fractional when it does not divide."""
        if unique_samples <= 0:
            raise UsageError(f"the number of unique samples must be positive, got {unique_samples}")
        return self.steps * self.batch_size / unique_samples


FLOP_CONVENTIONS = ("6N", "full")


def flops_per_token(non_embedding: int, arch: Architecture | None, seq_len: int, convention: str) -> float:
    """Training FLOPs per token.

    ``6N``: 6 × non-embedding parameters (Kaplan et al. 2020). ``full``: three times the
    forward count of Hoffmann et al. (2022, Appendix F) — per layer QKV and output
    projections and MLP (24·d²), attention scores and values (4·T·d), softmax (3·H·T) —
    plus the embedding lookup and the LM head (2·V·d each).
    """
    if convention == "6N":
        return float(TRAIN_FLOPS_PER_PARAM_TOKEN * non_embedding)
    if convention != "full":
        raise UsageError(f"unknown FLOP convention {convention!r}; choose one of {', '.join(FLOP_CONVENTIONS)}")
    if arch is None:
        raise ValueError("the full FLOP count needs a GPT-2-family architecture")
    d = arch.n_embd
    per_layer = 24 * d**2 + 4 * seq_len * d + 3 * arch.n_head * seq_len
    forward = arch.n_layer * per_layer + 2 * arch.vocab_size * d + 2 * arch.vocab_size * d
    return float(3 * forward)


def evaluation_flops(train_flops_per_token: float, tokens: int) -> float:
    """FLOPs of evaluating ``tokens`` tokens: the forward pass, a third of a training pass (2 of 6)."""
    return train_flops_per_token * FORWARD_FLOPS_PER_PARAM_TOKEN / TRAIN_FLOPS_PER_PARAM_TOKEN * tokens
