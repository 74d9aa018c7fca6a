"""Building Hugging Face models from a spec: a from-scratch GPT-2 size or a pretrained checkpoint.

A pretrained model that cannot be found is an error, never replaced by something else.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError, first_line
from ..hub import ensure_folder_or_hub
from .specs import (
    GPT2_CONTEXT,
    SCRATCH_PREFIX,
    SCRATCH_SIZES,
    Architecture,
    ModelFacts,
    ParameterCount,
    is_scratch,
    parameter_count,
    scratch_facts,
    scratch_size,
)

# A model's embedding may be padded past its tokenizer's size (e.g. to a multiple of 64 or 128); beyond that the
# vocabularies differ.
VOCAB_PADDING = 128


def model_config(spec: str, vocab_size: int, dropout: float | None = None):
    """The ``PretrainedConfig`` of ``spec``, checked against the tokenizer's vocabulary."""
    if is_scratch(spec):
        config = _scratch_config(spec, vocab_size)
    else:
        config = load_pretrained(spec, _load_config)
        model_vocab = getattr(config, "vocab_size", None)
        if model_vocab is not None and not 0 <= model_vocab - vocab_size <= VOCAB_PADDING:
            raise UsageError(
                f"the tokenizer has {vocab_size:,} tokens but model {spec!r} was trained with {model_vocab:,}: its ids would "
                "mean other tokens; use the model's own tokenizer, or a scratch: model for this tokenizer (never resized)"
            )
    if dropout is not None:
        for name in ("resid_pdrop", "embd_pdrop", "attn_pdrop"):
            if hasattr(config, name):
                setattr(config, name, dropout)
    return config


def context_length(config) -> int:
    """The model's context in tokens (``n_positions`` or ``max_position_embeddings``)."""
    return int(getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings"))


def build_model(spec: str, config, seed: int):
    """A fresh model: from-scratch weights drawn from ``seed``, or the checkpoint's weights."""
    import torch
    from transformers import AutoModelForCausalLM

    if is_scratch(spec):
        # Seeding right before construction makes the init a function of the seed alone.
        torch.manual_seed(seed)
        return AutoModelForCausalLM.from_config(config)
    return load_pretrained(spec, lambda name, **kw: AutoModelForCausalLM.from_pretrained(name, config=config, **kw))


def _scratch_config(spec: str, vocab_size: int):
    from transformers import GPT2Config

    size = scratch_size(spec)
    if size is None:
        raise UsageError(f"unknown model size {spec!r}; choose one of: {', '.join(SCRATCH_PREFIX + s for s in SCRATCH_SIZES)}")
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


def load_pretrained(spec: str, load):
    """``load(spec)`` with a missing folder or an unreachable Hub turned into one line saying what to do."""
    advice = (
        f"download it where you have internet (save_pretrained) and pass its local folder as --model PATH, "
        f"or train from scratch with --model {SCRATCH_PREFIX}SIZE"
    )
    if not Path(spec).is_dir():
        try:
            return load(spec, local_files_only=True)
        except (OSError, ValueError):  # not in the local cache: the Hub has to provide it
            ensure_folder_or_hub("model", spec, advice)
    try:
        return load(spec)
    except (OSError, ValueError) as error:
        raise UsageError(f"could not load model {spec!r}: {first_line(error)}; {advice}") from error


def architecture(config) -> Architecture | None:
    """The GPT-2-family shape of an HF config (GPT-2's names, else the common ones), or None."""
    names = {
        "n_layer": ("n_layer", "num_hidden_layers"),
        "n_embd": ("n_embd", "hidden_size"),
        "n_head": ("n_head", "num_attention_heads"),
        "vocab_size": ("vocab_size",),
        "n_positions": ("n_positions", "max_position_embeddings"),
    }
    values = {}
    for field, candidates in names.items():
        found = next((getattr(config, c) for c in candidates if getattr(config, c, None) is not None), None)
        if found is None:
            return None
        values[field] = int(found)
    return Architecture(**values, tied_head=bool(getattr(config, "tie_word_embeddings", True)))


def count_parameters(config) -> ParameterCount:
    """Parameters of the model ``config`` describes: by formula for GPT-2, else counted on the meta device."""
    shape = architecture(config)
    if shape is not None and getattr(config, "model_type", None) == "gpt2":
        return parameter_count(shape)
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    unique = {id(p): p for p in model.parameters()}
    total = sum(p.numel() for p in unique.values())
    embedding = sum(unique[id(m.weight)].numel() for m in model.modules() if type(m).__name__ == "Embedding" and id(m.weight) in unique)
    return ParameterCount(total=total, non_embedding=total - embedding)


def model_facts(spec: str, vocab_size: int, dropout: float | None = None) -> ModelFacts:
    """Shape, parameter count and context of ``spec``: arithmetic for from-scratch sizes, the checkpoint's config otherwise."""
    size = scratch_size(spec) if is_scratch(spec) else None
    if size is not None:
        return scratch_facts(size, vocab_size)
    config = model_config(spec, vocab_size, dropout)
    shape = architecture(config) if getattr(config, "model_type", None) == "gpt2" else None
    return ModelFacts(shape, count_parameters(config), context_length(config))
