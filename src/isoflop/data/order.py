"""The order in which a run sees its unique samples: a function of the run's seed alone.

Every engine feeds samples in this order, so two engines can be compared step by step.
Each epoch is a fresh permutation of the D samples; the last epoch is cut where the
budget ends (D need not divide the number of passes).
"""

from __future__ import annotations

import numpy as np


def sample_order(unique_samples: int, passes: int, seed: int) -> list[int]:
    """Indices into the first ``unique_samples`` training chunks, one per pass."""
    rng = np.random.default_rng(seed)
    order: list[int] = []
    while len(order) < passes:
        order.extend(int(i) for i in rng.permutation(unique_samples))
    return order[:passes]
