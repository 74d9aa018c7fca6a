"""Compute budgets for approach 2 from C values that never repeat exactly (extracted from a figure, logged).

Points are snapped to the budgets a user lists (the nearest, within a relative tolerance), or
grouped: sorted C values less than the tolerance apart (relative, each from the previous one)
share a budget, the group's geometric mean; budgets are usually 2× or more apart, far more than
the scatter of extracted or logged values.
"""

from __future__ import annotations

import numpy as np

from ..config.fit import DEFAULT_TOLERANCE
from ..errors import ArgumentError



def group_budgets(C, tolerance: float = DEFAULT_TOLERANCE, budgets=None) -> tuple[np.ndarray, list[dict]]:
    """Each point's budget, and per budget how many points it got."""
    C = np.asarray(C, dtype=float)
    if not (np.isfinite(tolerance) and 0 <= tolerance < 1):
        raise ArgumentError("{} must be at least 0 and below 1 (a relative distance), got " + str(tolerance), "budget_tolerance")
    if budgets:
        listed = np.array(sorted(budgets), dtype=float)
        if not (np.isfinite(listed).all() and (listed > 0).all()):
            raise ArgumentError("{} must be positive, finite FLOP counts", "budgets")
        nearest = listed[np.argmin(np.abs(np.log(C)[:, None] - np.log(listed)[None, :]), axis=1)]
        far = np.abs(C / nearest - 1) > tolerance
        if far.any():
            raise ArgumentError(f"{int(far.sum())} point(s) lie more than {tolerance:.0%} from every budget listed "
                                f"(e.g. C = {C[far][0]:.3g}); add budgets to {{}} or raise {{}}", "budgets", "budget_tolerance")
        snapped = nearest
    else:
        order = np.argsort(C)
        snapped = np.empty_like(C)
        group: list[int] = []
        for index in order:
            if group and C[index] > C[group[-1]] * (1 + tolerance):
                snapped[group] = _centre(C[group])
                group = []
            group.append(index)
        snapped[group] = _centre(C[group])
    values, counts = np.unique(snapped, return_counts=True)
    return snapped, [{"C": float(v), "points": int(n)} for v, n in zip(values, counts)]


def grouping_hint(groups: list[dict], points: int, tolerance: float) -> ArgumentError | None:
    """The error for C values that barely repeat (most budgets got a single point), or None."""
    singles = sum(1 for g in groups if g["points"] == 1)
    if len(groups) > 3 and singles > len(groups) / 2:
        return ArgumentError(f"the C values barely repeat ({points} points fall into {len(groups)} budgets within "
                             f"{tolerance:.0%}, {singles} of them with one point): raise {{}} (e.g. 0.2) or list the "
                             "budgets with {} C1,C2,…", "budget_tolerance", "budgets")
    return None


def _centre(values: np.ndarray) -> float:
    """A group's budget: its value when all agree (exactly, as a study's budgets do), else the geometric mean."""
    return float(values[0]) if values.min() == values.max() else float(np.exp(np.log(values).mean()))
