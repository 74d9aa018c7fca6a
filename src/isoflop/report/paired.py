"""Paired comparisons by seed: how sure a difference between two settings of a study is.

Runs of the same seed share their initialisation, their dropout draws and the start of their sample order, so
the difference between two D values (or two settings) is measured seed by seed, and the interval is the
Student-t interval of the mean of those per-seed differences (95 %, n − 1 degrees of freedom). With one seed
there is no spread, and no interval is given.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from scipy import stats

LEVEL = 0.95


@dataclass(frozen=True)
class Paired:
    """The mean of per-seed values (differences, relative costs), with its 95 % t-interval over the seeds."""

    mean: float
    seeds: int
    interval: tuple[float, float] | None  # None with fewer than two seeds
    low: float  # the lowest and highest per-seed value
    high: float

    @property
    def outside_spread(self) -> bool | None:
        """Whether the interval excludes 0 (None: no interval)."""
        if self.interval is None:
            return None
        return bool(self.interval[0] > 0 or self.interval[1] < 0)


def paired_mean(values: list[float]) -> Paired:
    """The mean of ``values`` (one per seed) and its t-interval."""
    if not values:
        raise ValueError("a paired comparison needs at least one seed")
    mean = statistics.fmean(values)
    interval = None
    if len(values) > 1:
        half = float(stats.t.ppf(0.5 + LEVEL / 2, len(values) - 1)) * statistics.stdev(values) / math.sqrt(len(values))
        interval = (mean - half, mean + half)
    return Paired(mean, len(values), interval, min(values), max(values))


def relative_costs(losses: dict[int, float], reference: dict[int, float]) -> Paired | None:
    """How much higher ``losses`` are than ``reference``, seed by seed (as fractions); None without a shared seed."""
    seeds = sorted(set(losses) & set(reference))
    if not seeds:
        return None
    return paired_mean([losses[s] / reference[s] - 1.0 for s in seeds])


def differences(losses: dict[int, float], reference: dict[int, float]) -> Paired | None:
    """``losses`` minus ``reference``, seed by seed; None without a shared seed."""
    seeds = sorted(set(losses) & set(reference))
    if not seeds:
        return None
    return paired_mean([losses[s] - reference[s] for s in seeds])
