"""Coverage of the fits' nominal 95 % intervals, simulated on a study's own design and noise level.

    isoflop isoflops                                   # the default study, once
    python benchmarks/coverage.py [FOLDER] [--replications 200] [--resamples 100] [--json]

The truth is the study itself made smooth. Approach 2: each budget's parabola of loss in log N
through its runs gives every trained (size, budget) its true loss, and the truth is what approach 2
gives on those losses (a, b, L* at the largest budget). Approach 3: the law fitted on the study
gives every run its true loss, and the truth is that law's E, α and β. The noise is the parabolas'
residual standard deviation, pooled over budgets with their degrees of freedom (n − 3 per budget:
the study has one seed per configuration, so its seed spread is estimated from these residuals).
Each replication adds fresh noise to every run, refits, and asks whether each method's 95 %
interval covers the truth. Approach 2's methods: the minima bootstrap (resampling the per-budget
minima, as isoflop did before), and the configuration bootstrap of ``fit.resampling`` with its
percentile, basic and studentized intervals. Approach 3: the points bootstrap of
``fit.chinchilla`` (percentile intervals), from Hoffmann et al.'s coarse grid of starts. The
hold-out forecast has an interval only with 4 or more smaller budgets; its coverage is measured
where the design has them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from isoflop.errors import UsageError
from isoflop.fit.chinchilla import START_GRIDS, fit_chinchilla
from isoflop.fit.holdout import holdout_largest
from isoflop.fit.isoflop_profiles import approach2, fit_frontier
from isoflop.fit.points import table_from_records
from isoflop.fit.resampling import allocation_intervals
from isoflop.results.store import Store

ALLOCATION_METHODS = {"configurations, percentile": "percentile", "configurations, basic": "basic",
                      "configurations, studentized": "studentized"}


def smooth_truth(N, loss, budgets):
    """Each point's loss on its budget's parabola, and the pooled residual standard deviation."""
    truth, squares, freedom = np.empty_like(loss), 0.0, 0
    for budget in np.unique(budgets):
        here = budgets == budget
        x = np.log(N[here])
        truth[here] = np.polyval(np.polyfit(x, loss[here], 2), x)
        squares += float(((loss[here] - truth[here]) ** 2).sum())
        freedom += int(here.sum()) - 3
    return truth, float(np.sqrt(squares / max(freedom, 1)))


def answers(N, D, loss, budgets, count, power_law):
    fitted = approach2(N, D, loss, budgets, count)
    frontier = fit_frontier([m.flops for m in fitted.minima], [m.loss for m in fitted.minima], bootstrap=200,
                            power_law=power_law)
    return fitted, frontier


def coverage(N, D, budgets, count, truth, sigma, replications: int, resamples: int, seed: int = 0) -> dict:
    """Approach 2's coverage per method and quantity over ``replications`` simulated studies."""
    true_fit, true_frontier = answers(N, D, truth, budgets, count, None)
    largest = float(budgets.max())
    target = {"a": true_fit.n_law.exponent, "b": true_fit.d_law.exponent, "loss_at_largest": float(true_frontier(largest))}
    hits = {method: {name: 0 for name in target} for method in ("minima bootstrap", *ALLOCATION_METHODS)}
    hits["hold-out forecast"] = {"loss_at_largest": 0}
    counted = {method: 0 for method in hits}
    rng = np.random.default_rng(seed)
    for replication in range(replications):
        noisy = truth + rng.normal(0, sigma, len(truth))
        try:
            fitted, frontier = answers(N, D, noisy, budgets, count, true_frontier.power_law)
        except UsageError:  # a simulated study without 3 minima has no interval to judge
            continue
        band = frontier.interval_at(np.array([largest]))
        intervals = {"minima bootstrap": {"a": fitted.n_law.exponent_interval, "b": fitted.d_law.exponent_interval,
                                          "loss_at_largest": (band[0][0], band[1][0]) if band else (np.nan, np.nan)}}
        for method, kind in ALLOCATION_METHODS.items():
            found = allocation_intervals(N, D, noisy, budgets, count, resamples, seed=replication,
                                         power_law=true_frontier.power_law, kind=kind)
            intervals[method] = {"a": found.a, "b": found.b, "loss_at_largest": found.loss_at_largest}
        try:
            check = holdout_largest(N, D, noisy, budgets, count, resamples=resamples,
                                    seed=replication)
            if check.loss_interval is not None:
                intervals["hold-out forecast"] = {"loss_at_largest": check.loss_interval}
        except UsageError:
            pass
        for method, values in intervals.items():
            counted[method] += 1
            for name, (low, high) in values.items():
                hits[method][name] += bool(low <= target[name] <= high)
    return {"truth": target, "sigma": sigma, "replications": replications, "resamples": resamples,
            "coverage": {method: {name: hits[method][name] / counted[method] for name in hits[method]}
                         for method in hits if counted[method]},
            "replications_with_an_answer": counted}


def approach3_coverage(N, D, loss, sigma, replications: int, resamples: int, seed: int = 0) -> dict:
    """Approach 3's coverage of E, α and β: the law fitted on the study is the truth, noise as approach 2's."""
    grid = START_GRIDS["coarse"]
    law = fit_chinchilla(N, D, loss, grid=grid, bootstrap=0)
    truth = law.E + law.A / N**law.alpha + law.B / D**law.beta
    names = ("E", "alpha", "beta")
    hits, counted = dict.fromkeys(names, 0), 0
    rng = np.random.default_rng(seed)
    for replication in range(replications):
        noisy = truth + rng.normal(0, sigma, len(truth))
        if (noisy <= 0).any():
            continue
        fitted = fit_chinchilla(N, D, noisy, grid=grid, bootstrap=resamples, seed=replication)
        counted += 1
        for name in names:
            low, high = fitted.intervals[name]
            hits[name] += bool(low <= getattr(law, name) <= high)
    return {"truth": {name: float(getattr(law, name)) for name in names}, "replications": counted,
            "coverage": {"points bootstrap, percentile": {name: hits[name] / max(counted, 1) for name in names}}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="isoflop-runs/isoflops")
    parser.add_argument("--replications", type=int, default=200)
    parser.add_argument("--resamples", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with Store(args.folder, create=False) as store:
        table = table_from_records(store.records())
    budgets = table.budgets()
    truth, sigma = smooth_truth(table.N, table.loss, budgets)
    started = time.perf_counter()
    report = coverage(table.N, table.D, budgets, table.budget_count(), truth, sigma, args.replications, args.resamples)
    middle = time.perf_counter()
    third = approach3_coverage(table.N, table.D, table.loss, sigma, args.replications, args.resamples)
    report |= {"folder": args.folder, "points": len(table.N), "approach_3": third,
               "seconds": {"approach_2": round(middle - started, 1), "approach_3": round(time.perf_counter() - middle, 1)}}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{args.folder}: {len(table.N)} runs, residual sd {sigma:.4f}; {args.replications} replications, "
          f"{args.resamples} resamples each, {report['seconds']} s")
    for method, values in (report["coverage"] | third["coverage"]).items():
        print(f"  {method:32s} " + "  ".join(f"{name} {share:.1%}" for name, share in values.items()))
    if "hold-out forecast" not in report["coverage"]:
        print("  hold-out forecast: no interval on this design (the hold-out fits 3 budgets, which determine the "
              "frontier's 3 parameters exactly)")


if __name__ == "__main__":
    sys.exit(main())
