"""An isoFLOP study with grid axes: each (budget, size) trained at every point of the axes, fitted at its best.

Tuning a setting per size is how compute-optimal ladders are run (Hoffmann et al. tune the learning rate
per size); the report fits the laws on, for each (budget, size), the runs of the point of lowest mean final
loss over seeds, and tables every point's loss beside it.
"""

from __future__ import annotations

import statistics

from ..config.studies import IsoflopsConfig
from ..results.records import RunRecord
from .aggregate import at_setting
from .document import Paragraph, Section, Table


def tuned_runs(runs: list[RunRecord], config: IsoflopsConfig) -> tuple[list[RunRecord], Section]:
    """The runs of each (budget, size)'s best point of the axes, and the section that tables every point."""
    points = config.settings()
    losses: dict[tuple[float, str], dict[int, list[RunRecord]]] = {}
    for index, point in enumerate(points):
        for run in at_setting(runs, point.values):
            if run.completed and run.final_val_loss is not None:
                losses.setdefault((run.budget_flops, run.grid["size"]), {}).setdefault(index, []).append(run)
    chosen: list[RunRecord] = []
    rows = []
    for (budget, size), by_point in sorted(losses.items()):
        means = {index: statistics.fmean(r.final_val_loss for r in group) for index, group in by_point.items()}
        best = min(means, key=means.get)
        chosen += by_point[best]
        rows.append([f"{budget:.3g}", size, *[f"{means[i]:.4f}" if i in means else "–" for i in range(len(points))],
                     points[best].describe()])
    header = ["C", "size", *[p.describe() for p in points], "best"]
    note = Paragraph("The laws are fitted on each (budget, size)'s best point of the axes (lowest mean final "
                     "validation loss over seeds); the table gives every point's mean final loss.")
    return chosen, Section("Best setting per budget and size", [note, Table(header, rows, [True, False] + [True] * (len(points) + 1))])
