"""The bootstrap's draws, in one place: which points each resample takes.

Every bootstrap loop in ``fit/`` (approach 3's Huber and variable-projection fits, the
data-constrained law, the frontier, the power laws of N* and D*) resamples points with replacement
from a seeded generator; with groups (the seed of each point), whole groups are drawn instead, so
that run-to-run noise reaches the intervals. Approach 2's configuration resamples
(``fit.resampling``) draw residuals, not points, and keep their own loop.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def draws(points: int, resamples: int, seed: int = 0, groups=None) -> Iterator[np.ndarray]:
    """The indices of each of ``resamples`` resamples of ``points`` points (with ``groups``: of whole groups)."""
    rng = np.random.default_rng(seed)
    groups = None if groups is None else np.asarray(groups)
    unique = None if groups is None else np.unique(groups)
    for _ in range(resamples):
        if unique is None or len(unique) == 1:
            yield rng.integers(0, points, points)
        else:
            chosen = rng.choice(unique, size=len(unique), replace=True)
            yield np.concatenate([np.flatnonzero(groups == g) for g in chosen])


def weights(points: int, resamples: int, seed: int = 0, groups=None) -> np.ndarray:
    """``draws`` as counts: row r says how often resample r takes each point (0: left out)."""
    return np.array([np.bincount(pick, minlength=points) for pick in draws(points, resamples, seed, groups)],
                    dtype=float).reshape(resamples, points)
