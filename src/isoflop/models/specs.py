"""Model shapes and their arithmetic: the from-scratch sizes and parameter counts. Pure, no torch.

Spec strings: ``scratch:SIZE`` (see ``SCRATCH_SIZES``), a local ``save_pretrained``
folder, or a Hub name such as ``distilgpt2``.
"""

from __future__ import annotations

from dataclasses import dataclass

SCRATCH_PREFIX = "scratch:"
# GPT-2's context length; from-scratch sizes keep it so any seq_len a study asks of GPT-2 fits.
GPT2_CONTEXT = 1024


@dataclass(frozen=True)
class ScratchSize:
    """A from-scratch GPT-2 shape: ``n_layer`` blocks of width ``n_embd`` with ``n_head`` heads."""

    n_layer: int
    n_embd: int
    n_head: int


# The from-scratch ladder of the isoFLOP study, named by non-embedding parameters (12·layers·width²).
# Rule: width grows by ~1.5× per rung, depth ≈ width/64 (at least 2), heads of width 64 (32 below 256).
LADDER: dict[str, ScratchSize] = {
    "0.4k": ScratchSize(n_layer=1, n_embd=6, n_head=1),
    "0.8k": ScratchSize(n_layer=1, n_embd=8, n_head=1),
    "2k": ScratchSize(n_layer=1, n_embd=12, n_head=1),
    "3k": ScratchSize(n_layer=1, n_embd=16, n_head=1),
    "6k": ScratchSize(n_layer=1, n_embd=24, n_head=1),
    "12k": ScratchSize(n_layer=1, n_embd=32, n_head=1),
    "25k": ScratchSize(n_layer=2, n_embd=32, n_head=1),
    "50k": ScratchSize(n_layer=2, n_embd=48, n_head=2),
    "100k": ScratchSize(n_layer=2, n_embd=64, n_head=2),
    "300k": ScratchSize(n_layer=3, n_embd=96, n_head=3),
    "800k": ScratchSize(n_layer=4, n_embd=128, n_head=4),
    "2m": ScratchSize(n_layer=4, n_embd=192, n_head=6),
    "5m": ScratchSize(n_layer=6, n_embd=256, n_head=4),
    "10m": ScratchSize(n_layer=6, n_embd=384, n_head=6),
    "25m": ScratchSize(n_layer=8, n_embd=512, n_head=8),
    "50m": ScratchSize(n_layer=10, n_embd=640, n_head=10),
    "85m": ScratchSize(n_layer=12, n_embd=768, n_head=12),
    "125m": ScratchSize(n_layer=14, n_embd=864, n_head=12),
}

SCRATCH_SIZES: dict[str, ScratchSize] = {
    **LADDER,
    "tiny": ScratchSize(n_layer=2, n_embd=64, n_head=2),
    "mini": ScratchSize(n_layer=4, n_embd=128, n_head=4),
    "small": ScratchSize(n_layer=6, n_embd=256, n_head=8),
    "distilgpt2": ScratchSize(n_layer=6, n_embd=768, n_head=12),
    "gpt2": ScratchSize(n_layer=12, n_embd=768, n_head=12),
}


@dataclass(frozen=True)
class Architecture:
    """What parameter and FLOP counts need to know of a GPT-2-family transformer."""

    n_layer: int
    n_embd: int
    n_head: int
    vocab_size: int
    n_positions: int
    tied_head: bool = True


@dataclass(frozen=True)
class ParameterCount:
    """A model's parameters: all of them, and those outside the token and position embeddings."""

    total: int
    non_embedding: int


def is_scratch(spec: str) -> bool:
    """Whether ``spec`` asks for a model from scratch (``scratch:SIZE``)."""
    return spec.startswith(SCRATCH_PREFIX)


def scratch_size(spec: str) -> ScratchSize | None:
    """The shape of ``scratch:SIZE``, or None when the size is unknown."""
    return SCRATCH_SIZES.get(spec[len(SCRATCH_PREFIX) :])


def scratch_architecture(size: ScratchSize, vocab_size: int) -> Architecture:
    """The GPT-2 shape of a from-scratch size for a vocabulary."""
    return Architecture(size.n_layer, size.n_embd, size.n_head, vocab_size, GPT2_CONTEXT)


def parameter_count(arch: Architecture) -> ParameterCount:
    """GPT-2's parameters by formula; non-embedding excludes the token and position tables.

    Per block: two LayerNorms (4d), QKV (3d² + 3d), attention output (d² + d), MLP (8d² + 5d):
    12d² + 13d. Plus the final LayerNorm (2d) and, when untied, the LM head (V·d).
    """
    d = arch.n_embd
    embeddings = arch.vocab_size * d + arch.n_positions * d
    non_embedding = arch.n_layer * (12 * d * d + 13 * d) + 2 * d + (0 if arch.tied_head else arch.vocab_size * d)
    return ParameterCount(total=embeddings + non_embedding, non_embedding=non_embedding)


@dataclass(frozen=True)
class ModelFacts:
    """What planning needs of a model: its shape (None unless GPT-2-family), parameters, context."""

    architecture: Architecture | None
    parameters: ParameterCount
    context: int


def scratch_facts(size: ScratchSize, vocab_size: int) -> ModelFacts:
    """Shape, parameter count and context of a from-scratch size, by arithmetic (no model built)."""
    arch = scratch_architecture(size, vocab_size)
    return ModelFacts(arch, parameter_count(arch), arch.n_positions)
