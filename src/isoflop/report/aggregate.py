"""Plain-data summaries of scarcity runs: per-D statistics over seeds. No plotting, no files."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from ..results.records import RunRecord


@dataclass(frozen=True)
class Spread:
    """The mean of a quantity over seeds, with its spread."""

    mean: float
    low: float
    high: float
    count: int

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(mean=statistics.fmean(values), low=min(values), high=max(values), count=len(values))


@dataclass(frozen=True)
class PointSummary:
    """All completed seeds of one D."""

    unique_samples: int
    epochs: float
    final: Spread
    best: Spread
    best_step: Spread
    curve_steps: list[int]  # the evaluated steps
    curve: list[float]  # mean validation loss at those steps over seeds
    final_bits_per_byte: float | None  # mean over seeds: comparable across tokenizers, unlike loss per token
    finals: dict[int, float]  # seed → final validation loss (for comparisons paired by seed)
    bests: dict[int, float]  # seed → best validation loss during training
    curve_low: list[float]  # the lowest and highest seed's validation loss at each evaluated step
    curve_high: list[float]


def by_unique_samples(runs: list[RunRecord]) -> list[PointSummary]:
    """The scarcity study's completed runs grouped by D, with each group's spread over seeds."""
    groups: dict[int, list[RunRecord]] = {}
    for run in runs:
        if run.completed:
            groups.setdefault(run.unique_samples, []).append(run)
    points = []
    for d in sorted(groups):
        group = groups[d]
        curves = [run.evaluated() for run in group]
        length = min(len(c) for c in curves)
        at_step = [[c[i].val_loss for c in curves] for i in range(length)]
        points.append(
            PointSummary(
                unique_samples=d,
                epochs=group[0].epochs,
                final=Spread.of([r.final_val_loss for r in group]),
                best=Spread.of([r.best_val_loss for r in group]),
                best_step=Spread.of([float(r.best_step) for r in group]),
                curve_steps=[m.step for m in curves[0][:length]],
                curve=[statistics.fmean(values) for values in at_step],
                final_bits_per_byte=_mean_or_none([r.bits_per_byte for r in group]),
                finals={r.seed: r.final_val_loss for r in group},
                bests={r.seed: r.best_val_loss for r in group},
                curve_low=[min(values) for values in at_step],
                curve_high=[max(values) for values in at_step],
            )
        )
    return points


def at_setting(runs: list[RunRecord], values: dict[str, Any]) -> list[RunRecord]:
    """The runs trained at one point of a study's axes: those whose config holds ``values`` (flat setting → value).
    A setting a run's config lacks (stored before it existed, or left out of keys while unset) is the study's."""
    return [run for run in runs if all(run.config.get(name, value) == value for name, value in values.items())]


def _mean_or_none(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else statistics.fmean(values)


def baseline(points: list[PointSummary]) -> PointSummary | None:
    """The one-epoch point (D equal to the budget) if the grid has it, else the largest D."""
    if not points:
        return None
    one_epoch = [p for p in points if abs(p.epochs - 1.0) < 1e-9]
    return one_epoch[0] if one_epoch else points[-1]


def relative_cost(loss: float, reference: float) -> float:
    """How much higher ``loss`` is than ``reference``, as a fraction."""
    return loss / reference - 1.0
