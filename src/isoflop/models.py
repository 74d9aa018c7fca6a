"""Model specs: a pretrained checkpoint (Hub name or local folder) or a from-scratch GPT-2 size.

Spec strings: ``scratch:SIZE`` (see ``SCRATCH_SIZES``), a local ``save_pretrained``
folder, or a Hub name such as ``distilgpt2``. A pretrained model that cannot be found is
an error, never replaced by something else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError, first_line
from .hub import ensure_reachable

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
class ParameterCount:
    total: int
    non_embedding: int


def is_scratch(spec: str) -> bool:
    return spec.startswith(SCRATCH_PREFIX)


def model_config(spec: str, vocab_size: int, dropout: float | None = None):
    """The ``PretrainedConfig`` of ``spec``, checked against the tokenizer's vocabulary."""
    if is_scratch(spec):
        config = _scratch_config(spec, vocab_size)
    else:
        config = _pretrained(spec, _load_config)
        model_vocab = getattr(config, "vocab_size", None)
        if model_vocab is not None and vocab_size > model_vocab:
            raise UsageError(
                f"the tokenizer has {vocab_size} tokens but model {spec!r} only {model_vocab}; "
                "use the model's own tokenizer"
            )
    if dropout is not None:
        for name in ("resid_pdrop", "embd_pdrop", "attn_pdrop"):
            if hasattr(config, name):
                setattr(config, name, dropout)
    return config


def context_length(config) -> int:
    return int(getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings"))


def build_model(spec: str, config, seed: int):
    """A fresh model: from-scratch weights drawn from ``seed``, or the checkpoint's weights."""
    import torch
    from transformers import AutoModelForCausalLM

    if is_scratch(spec):
        # Seeding right before construction makes the init a function of the seed alone.
        torch.manual_seed(seed)
        return AutoModelForCausalLM.from_config(config)
    return _pretrained(spec, lambda name, **kw: AutoModelForCausalLM.from_pretrained(name, config=config, **kw))


def count_parameters(model) -> ParameterCount:
    """Unique parameters (tied weights once); non-embedding excludes token and position tables."""
    unique = {id(p): p for p in model.parameters()}
    total = sum(p.numel() for p in unique.values())
    embedding_ids = {id(m.weight) for m in model.modules() if type(m).__name__ == "Embedding"}
    embedding = sum(unique[i].numel() for i in embedding_ids if i in unique)
    return ParameterCount(total=total, non_embedding=total - embedding)


def _scratch_config(spec: str, vocab_size: int):
    from transformers import GPT2Config

    name = spec[len(SCRATCH_PREFIX) :]
    if name not in SCRATCH_SIZES:
        raise UsageError(f"unknown model size {spec!r}; choose one of: {', '.join(SCRATCH_PREFIX + s for s in SCRATCH_SIZES)}")
    size = SCRATCH_SIZES[name]
    return GPT2Config(
        vocab_size=vocab_size,
        bos_token_id=vocab_size - 1,
        eos_token_id=vocab_size - 1,
        n_positions=GPT2_CONTEXT,
        n_layer=size.n_layer,
        n_embd=size.n_embd,
        n_head=size.n_head,
    )


def _load_config(name: str, **kwargs):
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(name, **kwargs)


def _pretrained(spec: str, load):
    advice = (
        f"download it where you have internet (save_pretrained) and pass its local folder as --model PATH, "
        f"or train from scratch with --model {SCRATCH_PREFIX}SIZE"
    )
    if not Path(spec).is_dir():
        try:
            return load(spec, local_files_only=True)
        except (OSError, ValueError):  # not in the local cache: the Hub has to provide it
            ensure_reachable(f"model {spec!r}", advice)
    try:
        return load(spec)
    except (OSError, ValueError) as error:
        raise UsageError(f"could not load model {spec!r}: {first_line(error)}; {advice}") from error
