"""Power laws y = k·x^a fitted as straight lines in log-log space, with bootstrap intervals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UsageError
from .draws import draws

CONFIDENCE = 0.95


@dataclass(frozen=True)
class PowerLaw:
    """y = coefficient · x^exponent; intervals are (low, high) at 95%."""

    coefficient: float
    exponent: float
    exponent_interval: tuple[float, float]

    def __call__(self, x):
        return self.coefficient * np.asarray(x, dtype=float) ** self.exponent

    def as_dict(self) -> dict:
        return {"coefficient": self.coefficient, "exponent": self.exponent, "exponent_interval": list(self.exponent_interval)}


def fit_power_law(x, y, bootstrap: int = 1000, seed: int = 0) -> PowerLaw:
    """y = a · x^b fitted in log space, with bootstrap intervals over the points."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 2 or len(np.unique(x)) < 2:
        raise UsageError(f"a power law needs at least 2 distinct points, got {len(np.unique(x))}")
    if (x <= 0).any() or (y <= 0).any():
        raise UsageError("power-law fits need positive values")
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    slopes = []
    for pick in draws(len(x), bootstrap if len(x) > 2 else 0, seed):
        if len(np.unique(x[pick])) < 2:
            continue
        slopes.append(np.polyfit(np.log(x[pick]), np.log(y[pick]), 1)[0])
    interval = percentile_interval(slopes) if slopes else (float("nan"), float("nan"))
    return PowerLaw(coefficient=float(np.exp(intercept)), exponent=float(slope), exponent_interval=interval)


def percentile_interval(samples) -> tuple[float, float]:
    """The central ``CONFIDENCE`` percentile interval of ``samples``."""
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(np.asarray(samples, dtype=float), [tail, 100 - tail])
    return float(low), float(high)
