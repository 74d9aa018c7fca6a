"""Two study folders side by side (``isoflop compare A B``): their answers, and each grid point's final loss in
both with the difference B − A, paired by seed where they share seeds, in a table, a figure and a report.

The folders are read, never written; the comparison goes to its own folder. Points are a scarcity study's D or an
isoFLOP study's (budget, size); only points both folders trained are compared, and the others are named.
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import matplotlib.pyplot as plt

from ..errors import UsageError
from ..results.records import RunRecord
from ..results.store import DATABASE_NAME, read_records
from .document import Bullets, Document, Figure, Paragraph, Section, Table
from .paired import differences
from .plots import outside_legend, save_figure

FIGURE = "compare_final_loss"


def compare(first: Path, second: Path, output: Path) -> Document:
    """The comparison of two study folders of one kind, its figure written to ``output``."""
    runs = {folder: _completed(folder) for folder in (first, second)}
    kinds = {folder: {r.kind for r in found} for folder, found in runs.items()}
    if kinds[first] != kinds[second] or len(kinds[first]) != 1:
        raise UsageError(f"{str(first)!r} holds a {'/'.join(sorted(kinds[first]))} study and {str(second)!r} a "
                         f"{'/'.join(sorted(kinds[second]))} study; compare two studies of one kind")
    kind = next(iter(kinds[first]))
    points = {folder: _by_point(found, kind) for folder, found in runs.items()}
    shared = sorted(set(points[first]) & set(points[second]))
    if not shared:
        raise UsageError(f"{str(first)!r} and {str(second)!r} share no grid point ({_what(kind)}); nothing to compare")
    names = _names(first, second)
    rows, gaps = [], []
    for point in shared:
        a, b = points[first][point], points[second][point]
        paired = differences(b, a)
        if paired is None:
            delta, verdict = statistics.fmean(b.values()) - statistics.fmean(a.values()), "no shared seed: unpaired"
        else:
            delta = paired.mean
            verdict = ("one shared seed: no interval" if paired.interval is None else
                       f"[{paired.interval[0]:+.4f}, {paired.interval[1]:+.4f}]"
                       + ("" if paired.outside_spread else ", within the seed spread"))
        gaps.append((point, delta, paired))
        rows.append([_label(point, kind), f"{statistics.fmean(a.values()):.4f} ({len(a)})",
                     f"{statistics.fmean(b.values()):.4f} ({len(b)})", f"{delta:+.4f}", verdict])
    only = [f"{_label(p, kind)} only in {names[f]}" for f in (first, second) for p in sorted(points[f]) if p not in shared]
    figure = _plot(points, shared, kind, names, output)
    worst = max(gaps, key=lambda gap: abs(gap[1]))
    if abs(worst[1]) < 5e-5:
        answer = [f"In short: over {len(shared)} shared point(s), {names[second]} and {names[first]} end at the same "
                  "final loss to 4 decimals."]
    else:
        answer = [f"In short: over {len(shared)} shared point(s), {names[second]} ends "
                  f"{'lower' if worst[1] < 0 else 'higher'} than {names[first]} by up to {abs(worst[1]):.4f} nats "
                  f"(at {_label(worst[0], kind)}); "
                  + (f"{sum(1 for g in gaps if g[2] is not None and g[2].outside_spread)} of them beyond the seed spread."
                     if any(g[2] is not None and g[2].interval is not None for g in gaps) else "no interval: one seed each.")]
    answer += [f"{names[f]}: {line}" for f in (first, second) for line in _first_answer(f)]
    sections = [Section(f"Final validation loss at each shared point (mean over seeds, seeds in brackets; B − A paired "
                        f"by seed, 95 % t-interval)", [Table(["point", f"A: {names[first]}", f"B: {names[second]}",
                                                             "B − A (nats)", "interval"], rows,
                                                            [False, True, True, True, False])]),
                Section("Plots", [Figure(figure, "final validation loss of both studies at each shared point")])]
    if only:
        sections.insert(1, Section("Points only one study trained (not compared)", [Bullets(only)]))
    intro = [Paragraph(f"**Compared.** A = `{first}`, B = `{second}`: two {kind} studies, read as stored.")]
    return Document(f"{names[first]} vs {names[second]}", intro, answer, sections)


def _completed(folder: Path) -> list[RunRecord]:
    if not (folder / DATABASE_NAME).is_file():
        raise UsageError(f"{str(folder)!r} holds no isoflop results (no {DATABASE_NAME}); give two study folders")
    return [r for r in read_records(folder) if r.completed]


def _by_point(runs: list[RunRecord], kind: str) -> dict[tuple, dict[int, float]]:
    """Each grid point's final loss per seed (the grid's own axes only; a point of extra axes is its own point)."""
    points: dict[tuple, dict[int, float]] = {}
    for run in runs:
        extra = tuple(sorted((k, v) for k, v in run.grid.items() if k not in ("unique_samples", "budget", "size")))
        point = (run.unique_samples,) if kind == "scarcity" else (run.budget_flops, run.parameters)
        points.setdefault(point + extra, {})[run.seed] = run.final_val_loss
    return points


def _label(point: tuple, kind: str) -> str:
    base = f"D={point[0]}" if kind == "scarcity" else f"C={point[0]:.3g}, N={point[1]:,}"
    return base + "".join(f", {k}={v:g}" for k, v in point[1 if kind == "scarcity" else 2:])


def _what(kind: str) -> str:
    return "the same D" if kind == "scarcity" else "the same budget and model size"


def _names(first: Path, second: Path) -> dict[Path, str]:
    a, b = first.name or str(first), second.name or str(second)
    return {first: a, second: b if b != a else str(second)}


def _first_answer(folder: Path) -> list[str]:
    """The first line of a folder's answer, from its summary.md (none when it has no report yet)."""
    path = folder / "summary.md"
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").split("## Answer", 1)[-1].splitlines()
    bullets = [re.sub(r"\*\*", "", line[2:]) for line in lines if line.startswith("- ")]
    return bullets[:1]


def _plot(points: dict, shared: list[tuple], kind: str, names: dict[Path, str], output: Path) -> Path:
    figure, axes = plt.subplots(figsize=(7.8, 4.4))
    for folder, marker in zip(points, ("o", "s")):
        x = [p[0] if kind == "scarcity" else p[1] for p in shared]
        y = [statistics.fmean(points[folder][p].values()) for p in shared]
        axes.scatter(x, y, marker=marker, label=names[folder], alpha=0.8)
    axes.set_xscale("log")
    axes.set_xlabel("unique training samples D (log)" if kind == "scarcity" else "parameters N, total (log)")
    axes.set_ylabel("final validation loss (nats/token)")
    axes.set_title("final validation loss at each point both studies trained (mean over seeds)", fontsize=9)
    axes.grid(True, which="both", alpha=0.3)
    outside_legend(axes, fontsize=8)
    output.mkdir(parents=True, exist_ok=True)
    return save_figure(figure, output / FIGURE)
