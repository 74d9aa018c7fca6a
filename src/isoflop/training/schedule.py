"""The learning-rate schedule: linear warmup from 0, then linear or cosine decay to 0.

The same arithmetic as transformers' ``get_linear_schedule_with_warmup`` and
``get_cosine_schedule_with_warmup`` (half a cosine), so every engine follows the
Trainer's schedule exactly.
"""

from __future__ import annotations

import math


def lr_factor(step: int, steps: int, warmup_steps: int, schedule: str) -> float:
    """Multiplier of the peak learning rate for the optimizer step with 0-based index ``step``."""
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    progress = (step - warmup_steps) / max(1, steps - warmup_steps)
    if schedule == "linear":
        return max(0.0, 1.0 - progress)
    if schedule == "cosine":
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))
    raise ValueError(f"unknown schedule {schedule!r}")
