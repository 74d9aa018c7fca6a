"""Coverage of approach 2's nominal 95 % intervals, simulated on a study's own design and noise level.

    isoflop isoflops                                   # the default study, once
    python benchmarks/coverage.py [FOLDER] [--replications 200] [--resamples 100] [--json]

The truth is the study itself made smooth: each budget's parabola of loss in log N through its
runs gives every trained (size, budget) its true loss; the noise is the parabolas' residual
standard deviation, pooled over budgets with their degrees of freedom (n − 3 per budget: the
study has one seed per configuration, so its seed spread is estimated from these residuals).
Each replication adds fresh noise to every configuration, refits approach 2, and asks whether
each method's 95 % interval covers the true a, b and L* at the largest budget (the values
approach 2 gives on the noise-free losses). Methods: the minima bootstrap (resampling the
per-budget minima, as isoflop did before), and the configuration bootstrap of
``fit.resampling`` without and with its small-sample inflation.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from isoflop.fit.isoflop_profiles import approach2, fit_frontier
from isoflop.fit.points import table_from_records
from isoflop.fit.resampling import allocation_intervals
from isoflop.results.store import Store


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
    """Coverage per method and quantity over ``replications`` simulated studies."""
    true_fit, true_frontier = answers(N, D, truth, budgets, count, None)
    largest = float(budgets.max())
    target = {"a": true_fit.n_law.exponent, "b": true_fit.d_law.exponent, "loss_at_largest": float(true_frontier(largest))}
    methods = {"configurations": (False, False), "configurations, inflated": (True, False),
               "configurations, inflated, basic": (True, True)}
    hits = {method: {name: 0 for name in target} for method in ("minima bootstrap", *methods)}
    counted = {method: 0 for method in hits}
    rng = np.random.default_rng(seed)
    for replication in range(replications):
        noisy = truth + rng.normal(0, sigma, len(truth))
        try:
            fitted, frontier = answers(N, D, noisy, budgets, count, true_frontier.power_law)
        except Exception:  # noqa: BLE001 - a simulated study without 3 minima has no interval to judge
            continue
        band = frontier.interval_at(np.array([largest]))
        intervals = {"minima bootstrap": {"a": fitted.n_law.exponent_interval, "b": fitted.d_law.exponent_interval,
                                          "loss_at_largest": (band[0][0], band[1][0]) if band else (np.nan, np.nan)}}
        for method, (inflate, basic) in methods.items():
            found = allocation_intervals(N, D, noisy, budgets, count, resamples, seed=replication,
                                         power_law=true_frontier.power_law, inflate=inflate, basic=basic)
            intervals[method] = {"a": found.a, "b": found.b, "loss_at_largest": found.loss_at_largest}
        for method, values in intervals.items():
            counted[method] += 1
            for name, (low, high) in values.items():
                hits[method][name] += bool(low <= target[name] <= high)
    return {"truth": target, "sigma": sigma, "replications": replications, "resamples": resamples,
            "coverage": {method: {name: hits[method][name] / max(counted[method], 1) for name in target}
                         for method in hits},
            "replications_with_an_answer": counted}


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
    report |= {"folder": args.folder, "points": len(table.N), "seconds": round(time.perf_counter() - started, 1)}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{args.folder}: {len(table.N)} runs, residual sd {sigma:.4f}; {args.replications} replications, "
          f"{args.resamples} resamples each, {report['seconds']} s")
    for method, values in report["coverage"].items():
        print(f"  {method:32s} " + "  ".join(f"{name} {share:.1%}" for name, share in values.items()))


if __name__ == "__main__":
    sys.exit(main())
