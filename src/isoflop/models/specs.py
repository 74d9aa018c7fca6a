"""Model shapes and their arithmetic: the from-scratch sizes and parameter counts. Pure, no torch.

Spec strings: ``scratch:SIZE`` or ``scratch:FAMILY-SIZE`` (see ``SCRATCH_SIZES`` and ``families``), a local
``save_pretrained`` folder, or a Hub name such as ``distilgpt2``.
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
    """What parameter and FLOP counts need to know of a decoder-only transformer: GPT-2's fields, and for the other
    families (``models.families``) their block: key/value heads, head width, MLP width, QK-norm, RoPE base."""

    n_layer: int
    n_embd: int
    n_head: int
    vocab_size: int
    n_positions: int
    tied_head: bool = True
    family: str = "gpt2"
    n_kv_head: int | None = None  # None: as many as query heads
    head_dim: int | None = None  # None: n_embd / n_head
    d_ff: int | None = None  # None: 4 · n_embd (GPT-2)
    qk_norm: bool = False
    rope_theta: float | None = None  # None: learned positions (GPT-2)

    @property
    def kv_heads(self) -> int:
        return self.n_kv_head or self.n_head

    @property
    def head_width(self) -> int:
        return self.head_dim or self.n_embd // self.n_head

    @property
    def mlp_width(self) -> int:
        return self.d_ff or 4 * self.n_embd


@dataclass(frozen=True)
class ParameterCount:
    """A model's parameters: all of them, and those outside the token and position embeddings."""

    total: int
    non_embedding: int


def is_scratch(spec: str) -> bool:
    """Whether ``spec`` asks for a model from scratch (``scratch:SIZE``)."""
    return spec.startswith(SCRATCH_PREFIX)


def parameter_count(arch: Architecture) -> ParameterCount:
    """Parameters by formula; non-embedding excludes the token (and GPT-2's position) table, and counts an untied head.

    GPT-2, per block: two LayerNorms (4d), QKV (3d² + 3d), attention output (d² + d), MLP (8d² + 5d): 12d² + 13d;
    plus the final LayerNorm (2d). Llama and Qwen3 (no biases), per block: two RMSNorms (2d), the query and output
    projections (2·d·H·h), keys and values (2·d·K·h), the SwiGLU MLP (3·d·f), Qwen3's QK-norm (2h); plus the final
    RMSNorm (d). Both: the LM head (V·d) when untied.
    """
    d, V = arch.n_embd, arch.vocab_size
    head = 0 if arch.tied_head else V * d
    if arch.family == "gpt2":
        embeddings = V * d + arch.n_positions * d
        non_embedding = arch.n_layer * (12 * d * d + 13 * d) + 2 * d + head
        return ParameterCount(total=embeddings + non_embedding, non_embedding=non_embedding)
    h = arch.head_width
    block = 2 * d + 2 * d * arch.n_head * h + 2 * d * arch.kv_heads * h + 3 * d * arch.mlp_width
    block += 2 * h if arch.qk_norm else 0
    non_embedding = arch.n_layer * block + d + head
    return ParameterCount(total=V * d + non_embedding, non_embedding=non_embedding)


def matmul_parameters(arch: Architecture) -> int:
    """The weights the model multiplies by in every forward pass: each block's projections and MLP, and the LM head
    (tied or not: it is a matmul either way). Biases, norms and embedding lookups are not matmuls."""
    d, h = arch.n_embd, arch.head_width
    if arch.family == "gpt2":
        per_block = 12 * d * d
    else:
        per_block = 2 * d * arch.n_head * h + 2 * d * arch.kv_heads * h + 3 * d * arch.mlp_width
    return arch.n_layer * per_block + arch.vocab_size * d


@dataclass(frozen=True)
class ModelFacts:
    """What planning needs of a model: its shape (None where its config does not say), parameters, context, and the
    parameters it multiplies by per token (``matmul_parameters``; None without a shape)."""

    architecture: Architecture | None
    parameters: ParameterCount
    context: int
    matmul: int | None = None
