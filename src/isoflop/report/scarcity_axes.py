"""What a scarcity study's grid axes buy back: at each D the best setting besides the baseline, its loss, and
the fraction of the scarcity gap it recovers, seed by seed.

The gap at D is the loss at D minus the loss at the reference D, both at the baseline setting; a setting
recovers ``(baseline loss at D − its loss at D) / gap`` of it (more than 1: it beats the reference's baseline).
"""

from __future__ import annotations

from pathlib import Path

from ..config.studies import AxisPoint
from .aggregate import PointSummary
from .document import Figure, Paragraph, Section, Table
from .paired import LEVEL, Paired, differences
from .plots import Landmarks, plot_loss_by_setting

Summaries = list[tuple[AxisPoint, list[PointSummary]]]


def axis_answer(summaries: Summaries, base: AxisPoint, reference: PointSummary) -> list[str]:
    """The answer's lines for the axes: at each D, the best setting other than the baseline and what it recovers."""
    rows = _rows(summaries, base, reference)
    if not rows:
        return ["No D has runs at another point of the axes yet: nothing to compare."]
    out = [f"What the axes buy back (against the baseline {base.describe()}; gains paired by seed):"]
    for row in rows:
        out.append(f"D={row.d}: {row.words()}")
    helped = [row for row in rows if row.gain is not None and row.gain.mean > 0 and row.gain.outside_spread is not False]
    if not helped:
        out.append("In short: no other point of the axes beats the baseline at any D beyond the seed spread, so none "
                   "buys back any of the scarcity gap here.")
    else:
        listed = ", ".join(f"D={row.d} ({row.best}, {row.recovered_text()} of the gap)" for row in helped)
        out.append(f"In short: another setting beats the baseline at {listed}.")
    return out


def axis_section(summaries: Summaries, base: AxisPoint, reference: PointSummary, folder: Path, title: str,
                 landmarks: Landmarks) -> Section:
    """The table of the best other setting per D, and the figure of loss vs D per setting."""
    rows = _rows(summaries, base, reference)
    table = Table(
        ["D", "baseline loss", "best other setting", "its loss", "gain vs baseline", "gap recovered"],
        [[str(r.d), f"{r.baseline:.3f}", r.best, f"{r.loss:.3f}", _paired(r.gain, "{:+.3f}"), r.recovered_text()]
         for r in rows],
        [True, True, False, True, True, True],
    )
    note = Paragraph(
        f"The gap at D is its baseline loss minus D={reference.unique_samples}'s, both at {base.describe()}; the best "
        "other setting is the point of the axes, the baseline aside, of lowest mean final loss; its gain (baseline loss "
        f"minus its loss: positive helps) is paired by seed with a {LEVEL:.0%} t-interval, and the fraction of the gap it "
        "recovers is the mean gain over the mean gap (negative: it widens the gap), with the lowest and highest seed's "
        "fraction in brackets. A gap inside the seed spread has nothing to recover.")
    figure = Figure(plot_loss_by_setting([(p.describe(), points) for p, points in summaries], folder, title, landmarks),
                    "final validation loss vs D, one line per setting")
    return Section("What the axes buy back", [table, note, figure])


class _Row:
    """One D of the axis table: the baseline and the best other setting there."""

    def __init__(self, d: int, baseline: float, best: str, loss: float, gain: Paired | None, gap: Paired | None,
                 fractions: list[float]):
        self.d, self.baseline, self.best, self.loss, self.gain, self.gap = d, baseline, best, loss, gain, gap
        self.fractions = fractions

    def recovered_text(self) -> str:
        if self.gap is None or self.gap.mean <= 0:
            return "no gap"
        if self.gap.outside_spread is False:
            return "no gap (within the seed spread)"
        mean = self.gain.mean / self.gap.mean if self.gain is not None else 0.0
        spread = f" [{min(self.fractions):+.1%}, {max(self.fractions):+.1%}]" if len(self.fractions) > 1 else ""
        return f"{mean:+.1%}{spread}"

    def words(self) -> str:
        gain = _paired(self.gain, "{:+.3f}")
        against = f"{self.loss:.3f} against {self.baseline:.3f} at the baseline, gain {gain}"
        if self.gain is not None and self.gain.outside_spread is False:
            return f"no setting differs from the baseline beyond the seed spread (closest: {self.best}, {against})."
        if self.gain is not None and self.gain.mean < 0:
            return (f"every other setting is worse than the baseline; the least bad, {self.best}, ends at {against}; "
                    f"gap recovered: {self.recovered_text()}.")
        return f"best {self.best}, {against}; gap recovered: {self.recovered_text()}."


def _rows(summaries: Summaries, base: AxisPoint, reference: PointSummary) -> list[_Row]:
    by_d = [{p.unique_samples: p for p in points} for _, points in summaries]
    base_index = next(i for i, (p, _) in enumerate(summaries) if p is base)
    base_by_d = by_d[base_index]
    rows = []
    for d in sorted(base_by_d):
        candidates = [(i, points[d]) for i, points in enumerate(by_d) if d in points and i != base_index]
        if not candidates:
            continue
        best_index, best = min(candidates, key=lambda item: item[1].final.mean)
        baseline = base_by_d[d]
        gain = differences(baseline.finals, best.finals)
        gap = differences(baseline.finals, reference.finals) if baseline is not reference else None
        seeds = sorted(set(baseline.finals) & set(best.finals) & set(reference.finals))
        fractions = [(baseline.finals[s] - best.finals[s]) / (baseline.finals[s] - reference.finals[s])
                     for s in seeds if baseline.finals[s] != reference.finals[s]]
        rows.append(_Row(d, baseline.final.mean, summaries[best_index][0].describe(), best.final.mean, gain, gap,
                         fractions))
    return rows


def _paired(value: Paired | None, spec: str) -> str:
    if value is None:
        return "–"
    if value.interval is None:
        return spec.format(value.mean)
    return f"{spec.format(value.mean)} [{spec.format(value.interval[0])}, {spec.format(value.interval[1])}]"

