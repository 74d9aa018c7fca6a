"""Model families trained from scratch: GPT-2 (the default), Llama and Qwen3. Pure, no torch.

A family is a rule that turns a rung of the size ladder (``specs.SCRATCH_SIZES``: 0.4k … 125m, tiny … gpt2) into a
shape. The rung gives width, depth and query heads (the ladder's rule: width ~1.5× per rung, depth ≈ width/64, heads
of width 64 where the width allows); the family gives the block:

- ``gpt2``: LayerNorm, a GELU MLP of 4·width, learned positions, the head tied to the embedding (today's models,
  every key and number unchanged);
- ``llama``: RMSNorm, a SwiGLU MLP of 8/3·width rounded up to a multiple of 8, RoPE (θ = 500,000), no biases, an
  untied head, every query head with its own keys and values — the blocks of OLMo-core's ladder;
- ``qwen3``: RMSNorm, a SwiGLU MLP of 3·width, RoPE (θ = 1,000,000), QK-norm, keys and values shared by pairs of
  query heads (GQA 2) where the head count is even, the head tied — the blocks of Qwen3's small models.

A spec names both: ``scratch:25m`` (GPT-2) or ``scratch:llama-25m``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .specs import (
    GPT2_CONTEXT,
    SCRATCH_PREFIX,
    SCRATCH_SIZES,
    Architecture,
    ModelFacts,
    ScratchSize,
    matmul_parameters,
    parameter_count,
)

DEFAULT_FAMILY = "gpt2"


@dataclass(frozen=True)
class FamilyRule:
    """How a family builds its blocks from a rung's width, depth and heads."""

    mlp_ratio: float  # MLP width / model width
    mlp_multiple: int  # the MLP width rounded up to a multiple of this
    gqa: int  # query heads per key/value head (1: none shared), where the heads divide
    tied: bool
    rope_theta: float | None  # None: learned positions
    qk_norm: bool


RULES: dict[str, FamilyRule] = {
    "gpt2": FamilyRule(mlp_ratio=4, mlp_multiple=1, gqa=1, tied=True, rope_theta=None, qk_norm=False),
    "llama": FamilyRule(mlp_ratio=8 / 3, mlp_multiple=8, gqa=1, tied=False, rope_theta=500_000.0, qk_norm=False),
    "qwen3": FamilyRule(mlp_ratio=3, mlp_multiple=8, gqa=2, tied=True, rope_theta=1_000_000.0, qk_norm=True),
}
FAMILIES = tuple(RULES)


def split_scratch(spec: str) -> tuple[str, str]:
    """``scratch:llama-25m`` → (``llama``, ``25m``); ``scratch:25m`` → (``gpt2``, ``25m``)."""
    name = spec[len(SCRATCH_PREFIX):]
    family, dash, size = name.partition("-")
    return (family, size) if dash and family in RULES else (DEFAULT_FAMILY, name)


def scratch_spec(family: str, size: str) -> str:
    """The spec of ``size`` in ``family`` (GPT-2's keep their old names, so their keys stay)."""
    return f"{SCRATCH_PREFIX}{size}" if family == DEFAULT_FAMILY else f"{SCRATCH_PREFIX}{family}-{size}"


def family_size(spec: str) -> tuple[str, ScratchSize | None]:
    """The family of a ``scratch:`` spec and its rung (None when the rung is unknown)."""
    family, size = split_scratch(spec)
    return family, SCRATCH_SIZES.get(size)


def family_architecture(family: str, size: ScratchSize, vocab_size: int) -> Architecture:
    """The shape ``family``'s rule gives a rung, for a vocabulary."""
    rule = RULES[family]
    if family == DEFAULT_FAMILY:
        return Architecture(size.n_layer, size.n_embd, size.n_head, vocab_size, GPT2_CONTEXT)
    heads = size.n_head
    kv_heads = heads // rule.gqa if heads % rule.gqa == 0 else heads
    mlp = rule.mlp_multiple * math.ceil(rule.mlp_ratio * size.n_embd / rule.mlp_multiple)
    return Architecture(size.n_layer, size.n_embd, heads, vocab_size, GPT2_CONTEXT, tied_head=rule.tied, family=family,
                        n_kv_head=kv_heads, head_dim=size.n_embd // heads, d_ff=mlp, qk_norm=rule.qk_norm,
                        rope_theta=rule.rope_theta)


def scratch_facts(family: str, size: ScratchSize, vocab_size: int) -> ModelFacts:
    """Shape, parameter counts and context of a rung in a family, by arithmetic (no model built)."""
    arch = family_architecture(family, size, vocab_size)
    return ModelFacts(arch, parameter_count(arch), arch.n_positions, matmul_parameters(arch))
