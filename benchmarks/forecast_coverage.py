"""Coverage of the forecast intervals in simulation, where the truth is known, with the frontier's form
misspecified as well as right.

    python benchmarks/forecast_coverage.py [--replications 100] [--resamples 100] [--noise 0.01] [--json FILE]

Each design is an isoFLOP ladder of 6 budgets (1e18 to 3e20, C = 6ND) with 7 sizes per budget from
¼ to 4× the optimum, each run's loss the truth plus Gaussian noise of sd ``--noise`` nats. Truths:

- ``with E``: Hoffmann et al.'s L = 1.69 + 406.4/N^0.34 + 410.7/D^0.28 (its frontier levels off);
- ``without E``: the same with E = 0 (its frontier is nearly a pure power law).

Either truth is fitted with both frontier forms, so one of the two forms is always the wrong one; the
rule has to notice which from the budgets' own backtest. Each replication fits the 4 and the 5 smallest
budgets and forecasts every larger one (0.2 to 1.5 fitted log-ranges beyond). Truths checked: the
true compute-optimal loss L*(C) (the ``law`` kind) and a fresh run's loss at the forecast N* (the
``new run`` kind: the true loss there plus fresh noise). ``today`` is the frontier's minima-bootstrap
percentile band that ``advise`` printed before, for reference.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from isoflop.errors import UsageError
from isoflop.fit import fit_allocation
from isoflop.fit.isoflop_profiles import approach2, fit_frontier
from isoflop.fit.powerlaw import percentile_interval

BUDGETS = (1e18, 3e18, 1e19, 3e19, 1e20, 3e20)
SIZES = 7
ORIGINS = (4, 5)
TRUTHS = {"with E": 1.69, "without E": 0.0}
A, B, ALPHA, BETA = 406.4, 410.7, 0.34, 0.28


def loss(N, D, E):
    return E + A / N**ALPHA + B / D**BETA


def optimum(C, E):
    N = np.geomspace(1e5, 1e14, 40001)
    values = loss(N, C / (6 * N), E)
    return float(values.min())


def design():
    rows = [(N, C / (6 * N), C) for C in BUDGETS for N in 0.0912 * C**0.5 * np.geomspace(0.25, 4, SIZES)]
    return [np.array(column) for column in zip(*rows)]


def simulate(replications: int, resamples: int, noise: float, seed: int = 0, before: bool = True) -> dict:
    """Coverage and width per truth and method; ``before``: also the minima bootstrap the new interval replaced."""
    N, D, C = design()
    report = {}
    for truth, E in TRUTHS.items():
        rng = np.random.default_rng(seed)
        counts = {"new (law)": [0, 0, []], "new (new run)": [0, 0, []], "today": [0, 0, []]}
        for replication in range(replications):
            noisy = loss(N, D, E) + rng.normal(0, noise, len(N))
            for k in ORIGINS:
                kept = C <= BUDGETS[k - 1]
                try:
                    law = fit_allocation(N[kept], D[kept], noisy[kept], C[kept], resamples=resamples, seed=replication)
                    fitted = approach2(N[kept], D[kept], noisy[kept], C[kept], bootstrap=0)
                    frontier = fit_frontier([m.flops for m in fitted.minima], [m.loss for m in fitted.minima],
                                            bootstrap=200 if before else 0)
                except UsageError:
                    continue
                for target in BUDGETS[k:]:
                    size = law.optimal_size(target).value
                    truths = {"new (law)": optimum(target, E),
                              "new (new run)": float(loss(size, target / (6 * size), E) + rng.normal(0, noise)),
                              "today": optimum(target, E)}
                    band = [e + a * target**-g for e, a, g in frontier.samples]
                    intervals = {"new (law)": law.predict(target).interval,
                                 "new (new run)": law.predict(target, "new run").interval,
                                 "today": percentile_interval(band) if band else None}  # no band without ``before``
                    centre = {"new (law)": law.predict(target).value, "new (new run)": law.predict(target).value,
                              "today": float(frontier(target))}
                    for method, interval in intervals.items():
                        if interval is None:
                            continue
                        counts[method][0] += int(interval[0] <= truths[method] <= interval[1])
                        counts[method][1] += 1
                        counts[method][2].append((interval[1] - interval[0]) / centre[method])
        report[truth] = {method: {"coverage": hit / max(total, 1), "forecasts": total,
                                  "mean_width": float(np.mean(widths)) if widths else None}
                         for method, (hit, total, widths) in counts.items() if total}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=100)
    parser.add_argument("--resamples", type=int, default=100)
    parser.add_argument("--noise", type=float, default=0.01)
    parser.add_argument("--json", default=None, help="also write the table to this file")
    args = parser.parse_args()
    started = time.perf_counter()
    report = simulate(args.replications, args.resamples, args.noise)
    seconds = round(time.perf_counter() - started, 1)
    print(f"{args.replications} replications × origins {ORIGINS}, {args.resamples} resamples, noise {args.noise} nats, {seconds} s")
    print("truth | method | coverage of nominal 95 % | forecasts | mean width")
    for truth, methods in report.items():
        for method, row in methods.items():
            width = f"{row['mean_width']:.2%}" if row["mean_width"] is not None else "-"
            print(f"{truth:9s} | {method:14s} | {row['coverage']:.1%} | {row['forecasts']} | {width}")
    if args.json:
        Path(args.json).write_text(json.dumps({"settings": vars(args), "seconds": seconds, "report": report}, indent=2) + "\n",
                                   encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
