"""Building Hugging Face models from a spec: a from-scratch size of a family (GPT-2, Llama, Qwen3) or a pretrained
checkpoint of any causal LM.

A pretrained model that cannot be found is an error, never replaced by something else.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError, first_line
from ..hub import ensure_folder_or_hub
from .families import FAMILIES, family_architecture, family_size, scratch_facts
from .specs import (SCRATCH_PREFIX, SCRATCH_SIZES, Architecture, ModelFacts, ParameterCount, is_scratch, matmul_parameters,
                    parameter_count)

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
        for name in ("resid_pdrop", "embd_pdrop", "attn_pdrop", "attention_dropout"):
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
    from transformers import GPT2Config, LlamaConfig, Qwen3Config

    family, size = family_size(spec)
    if size is None:
        raise UsageError(f"unknown model size {spec!r}; choose one of: {', '.join(SCRATCH_PREFIX + s for s in SCRATCH_SIZES)}"
                         f" (or scratch:FAMILY-SIZE, FAMILY one of {', '.join(FAMILIES)})")
    arch = family_architecture(family, size, vocab_size)
    ends = {"bos_token_id": vocab_size - 1, "eos_token_id": vocab_size - 1}
    if family == "gpt2":
        return GPT2Config(vocab_size=vocab_size, n_positions=arch.n_positions, n_layer=arch.n_layer, n_embd=arch.n_embd,
                          n_head=arch.n_head, **ends)
    shape = dict(vocab_size=vocab_size, hidden_size=arch.n_embd, intermediate_size=arch.mlp_width,
                 num_hidden_layers=arch.n_layer, num_attention_heads=arch.n_head, num_key_value_heads=arch.kv_heads,
                 head_dim=arch.head_width, max_position_embeddings=arch.n_positions, tie_word_embeddings=arch.tied_head,
                 rope_parameters={"rope_type": "default", "rope_theta": arch.rope_theta}, **ends)
    return (LlamaConfig if family == "llama" else Qwen3Config)(**shape)


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


_FAMILY_OF_MODEL_TYPE = {"gpt2": "gpt2", "llama": "llama", "qwen3": "qwen3"}


def architecture(config) -> Architecture | None:
    """The shape of an HF config (GPT-2's names, else the common ones), or None where it does not give one."""
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
    tied = bool(getattr(config, "tie_word_embeddings", True))
    kind = getattr(config, "model_type", None)
    if kind == "gpt2":
        return Architecture(**values, tied_head=tied)
    return Architecture(**values, tied_head=tied, family=_FAMILY_OF_MODEL_TYPE.get(kind, str(kind)),
                        n_kv_head=getattr(config, "num_key_value_heads", None), head_dim=getattr(config, "head_dim", None),
                        d_ff=getattr(config, "intermediate_size", None), qk_norm=kind == "qwen3",
                        rope_theta=_rope_theta(config))


def _rope_theta(config) -> float | None:
    """RoPE's base: ``rope_parameters["rope_theta"]`` (transformers 5), or ``rope_theta`` (before)."""
    theta = (getattr(config, "rope_parameters", None) or {}).get("rope_theta", getattr(config, "rope_theta", None))
    return None if theta is None else float(theta)


def meta_model(config):
    """The model ``config`` describes, on the meta device: its modules and shapes, no memory."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)


def count_parameters(config) -> ParameterCount:
    """Parameters of the model ``config`` describes: by formula for GPT-2, else counted on the meta device."""
    if getattr(config, "model_type", None) == "gpt2":
        return parameter_count(architecture(config))
    model = meta_model(config)
    unique = {id(p): p for p in model.parameters()}
    total = sum(p.numel() for p in unique.values())
    embedding = sum(unique[id(m.weight)].numel() for m in model.modules() if type(m).__name__ == "Embedding" and id(m.weight) in unique)
    return ParameterCount(total=total, non_embedding=total - embedding)


def count_matmul_parameters(model) -> int:
    """The weights ``model`` multiplies by per token: every linear (and GPT-2 Conv1D) layer, the head included once
    whether or not it is tied to the embedding."""
    import torch
    from transformers.pytorch_utils import Conv1D

    return sum(m.weight.numel() for m in model.modules() if isinstance(m, (torch.nn.Linear, Conv1D)))


def model_facts(spec: str, vocab_size: int, dropout: float | None = None) -> ModelFacts:
    """Shape, parameter counts and context of ``spec``: arithmetic for from-scratch sizes, the checkpoint's config
    (and its model on the meta device) otherwise."""
    if is_scratch(spec):
        family, size = family_size(spec)
        if size is not None:
            return scratch_facts(family, size, vocab_size)
    return config_facts(model_config(spec, vocab_size, dropout))


def config_facts(config) -> ModelFacts:
    """Shape, parameter counts and context of the model an HF config describes (GPT-2 by formula, others counted on
    the meta device)."""
    shape = architecture(config)
    if getattr(config, "model_type", None) == "gpt2":
        return ModelFacts(shape, parameter_count(shape), context_length(config), matmul_parameters(shape))
    matmul = count_matmul_parameters(meta_model(config)) if shape is not None else None
    return ModelFacts(shape, count_parameters(config), context_length(config), matmul)
