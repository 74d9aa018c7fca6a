"""The learning-rate schedule: linear warmup from 0, then linear or cosine decay to 0, or warmup-stable-decay.

The same arithmetic as transformers' ``get_linear_schedule_with_warmup``,
``get_cosine_schedule_with_warmup`` (half a cosine) and ``get_wsd_schedule`` (the peak rate until the
last ``cooldown_steps``, then 1 - sqrt or linear to 0), so every engine follows the Trainer's schedule
exactly. A wsd run's rate before its cooldown does not depend on its length: runs of one size at several
budgets share their steps up to each one's cooldown (``training.trunks``).
"""

from __future__ import annotations

import math


def lr_factor(step: int, steps: int, warmup_steps: int, schedule: str, cooldown_steps: int = 0,
              cooldown_shape: str | None = None) -> float:
    """Multiplier of the peak learning rate for the optimizer step with 0-based index ``step``."""
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    if schedule == "wsd":
        return wsd_cooldown_factor(step - (steps - cooldown_steps), cooldown_steps, cooldown_shape)
    progress = (step - warmup_steps) / max(1, steps - warmup_steps)
    if schedule == "linear":
        return max(0.0, 1.0 - progress)
    if schedule == "cosine":
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))
    raise ValueError(f"unknown schedule {schedule!r}")


def wsd_cooldown_factor(into_cooldown: int, cooldown_steps: int, shape: str | None) -> float:
    """The wsd multiplier ``into_cooldown`` steps after the cooldown starts (negative: still at the peak)."""
    if into_cooldown < 0:
        return 1.0
    progress = into_cooldown / max(1, cooldown_steps)
    if shape == "1-sqrt":
        return max(0.0, 1.0 - math.sqrt(progress))
    if shape == "linear":
        return max(0.0, 1.0 - progress)
    raise ValueError(f"unknown cooldown shape {shape!r}")
