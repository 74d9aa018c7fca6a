"""The optimizer every engine and recipe trains with, from ``OptimizerConfig``: one parameter-groups rule,
one AdamW construction, one per-step learning rate.

The rule and the defaults are the HF Trainer's (the reference engine), so a fast engine and a recipe
step exactly as the Trainer would: AdamW (the fused kernel, the Trainer's ``adamw_torch_fused``) with
weight decay on every weight but biases and norms, and the peak learning rate times
``schedule.lr_factor``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..config.parts import OptimizerConfig
from .schedule import lr_factor


# The Trainer's rule (``Trainer.get_decay_parameter_names``): no decay for biases and norms, by name.
_UNDECAYED = re.compile(r"bias|layernorm|rmsnorm|(?:^|\.)norm(?:$|\.)|_norm(?:$|\.)")


def decays(name: str) -> bool:
    """Whether the parameter ``name`` (``transformer.h.0.ln_1.weight``, ``model.layers.0.self_attn.q_norm.weight``, or
    a stacked ``h.0.attn.c_attn.bias``) is decayed: every weight but biases and norms (GPT-2's LayerNorms ``ln_1``,
    ``ln_2``, ``ln_f``; Llama's and Qwen3's RMSNorms, QK-norm included), as the Trainer decides."""
    return not _UNDECAYED.search(name.lower()) and not any(part.startswith("ln_") for part in name.split("."))


def parameter_groups(named_parameters: Iterable, weight_decay: float) -> list[dict]:
    """The two AdamW groups of ``(name, parameter)`` pairs: decayed, and not."""
    decayed, undecayed = [], []
    for name, parameter in named_parameters:
        (decayed if decays(name) else undecayed).append(parameter)
    return [{"params": decayed, "weight_decay": weight_decay}, {"params": undecayed, "weight_decay": 0.0}]


def adamw(named_parameters: Iterable, optimizer: OptimizerConfig):
    """AdamW over ``named_parameters`` with every setting of ``optimizer`` (betas, epsilon, decay) stated."""
    import torch

    return torch.optim.AdamW(
        parameter_groups(named_parameters, optimizer.weight_decay),
        lr=optimizer.learning_rate,
        betas=(optimizer.adam_beta1, optimizer.adam_beta2),
        eps=optimizer.adam_epsilon,
        fused=True,
    )


def schedule_factor(optimizer: OptimizerConfig, step: int, steps: int) -> float:
    """The multiplier of the peak rate at the optimizer step with 0-based index ``step`` of a run of ``steps`` steps."""
    return lr_factor(step, steps, optimizer.warmup_for(steps), optimizer.schedule, optimizer.cooldown_for(steps),
                     optimizer.cooldown_shape)


def learning_rate(optimizer: OptimizerConfig, step: int, steps: int) -> float:
    """The learning rate of the optimizer step with 0-based index ``step`` of a run of ``steps`` steps."""
    return optimizer.learning_rate * schedule_factor(optimizer, step, steps)


def set_learning_rate(torch_optimizer, rate: float) -> None:
    """Set every parameter group's learning rate to ``rate``."""
    for group in torch_optimizer.param_groups:
        group["lr"] = rate


def trainer_schedule(optimizer: OptimizerConfig, steps: int) -> dict:
    """The ``TrainingArguments`` that give the Trainer this schedule for a run of ``steps`` steps."""
    arguments = {"lr_scheduler_type": optimizer.schedule, "warmup_steps": optimizer.warmup_for(steps)}
    if optimizer.schedule == "wsd":
        arguments |= {"lr_scheduler_type": "warmup_stable_decay", "lr_scheduler_kwargs": {
            "num_decay_steps": optimizer.cooldown_for(steps), "decay_type": optimizer.cooldown_shape}}
    return arguments
