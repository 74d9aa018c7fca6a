"""Approach-3 fit time: the screened fitter against L-BFGS-B from every start, and variable projection.

    python benchmarks/fits.py [--json] [--resamples 1000]

Variable projection (``fit.varpro``, least squares in loss space) is timed with the same number
of resamples, and its optimum compared with the Huber fit's: in the fitted values, and as the
Huber objective reached when the Huber fit is polished from the variable-projection optimum.

The set: 240 points shaped like Epoch AI's Chinchilla extraction (L = 1.82 + 482/N^0.3478 +
2085/D^0.3658, 6 budgets from 6e18 to 3e21, 40 sizes each, Laplace noise of 1% in log-loss).
Both fit Hoffmann et al.'s 4,500 starts (Huber, δ = 1e-3); the screened fitter then runs the
bootstrap the CLI runs by default. The loop's bootstrap is not run (it would take hours): its
cost is the time of its starts, once per resample, which the report estimates.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np

from isoflop.fit.chinchilla import (DEFAULT_GRID, ChinchillaLaw, _best_fit, _minimise_from, _starts, fit_chinchilla,
                                    refit_weighted)
from isoflop.fit.objectives import Objective
from isoflop.fit.varpro import fit_varpro

TRUTH = ChinchillaLaw(E=1.82, A=482.0, B=2085.0, alpha=0.3478, beta=0.3658)


def points(seed: int = 0):
    rng = np.random.default_rng(seed)
    N, D = [], []
    for flops in np.geomspace(6e18, 3e21, 6):
        centre, _ = TRUTH.optimal(flops)
        for n in centre * np.geomspace(0.1, 10, 40):
            N.append(n)
            D.append(flops / (6 * n))
    N, D = np.array(N), np.array(D)
    return N, D, TRUTH.loss(N, D) * np.exp(rng.laplace(0, 0.01, len(N)))


def cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(function):
    wall, used = time.perf_counter(), cpu()
    result = function()
    return result, time.perf_counter() - wall, cpu() - used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples of the screened fit")
    args = parser.parse_args()
    N, D, loss = points()
    logs = (np.log(N), np.log(D), np.log(loss))
    starts, objective = _starts(DEFAULT_GRID), Objective()
    screened, screened_wall, screened_cpu = timed(lambda: _best_fit(*logs, starts, objective))
    every, loop_wall, loop_cpu = timed(lambda: _minimise_from(starts, *logs, objective))
    law, full_wall, full_cpu = timed(lambda: fit_chinchilla(N, D, loss, bootstrap=args.resamples))
    projected, varpro_wall, varpro_cpu = timed(lambda: fit_varpro(N, D, loss, bootstrap=args.resamples))
    polished = refit_weighted(projected, N, D, loss, np.ones(len(N)), objective)
    report = {
        "points": len(N), "starts": len(starts), "resamples": args.resamples,
        "screened_starts_wall_s": round(screened_wall, 2), "screened_starts_cpu_s": round(screened_cpu, 2),
        "lbfgs_every_start_wall_s": round(loop_wall, 2), "lbfgs_every_start_cpu_s": round(loop_cpu, 2),
        "starts_speedup_wall": round(loop_wall / screened_wall, 1),
        "objective_relative_difference": float(f"{abs(screened.value - every.value) / every.value:.2e}"),
        "screened_fit_with_bootstrap_wall_s": round(full_wall, 2), "screened_fit_with_bootstrap_cpu_s": round(full_cpu, 2),
        "loop_with_bootstrap_estimate_s": round(loop_wall * (1 + args.resamples), 0),
        "converged_resamples": law.convergence["converged_resamples"],
        "fitted": {name: round(float(getattr(law, name)), 4) for name in ("E", "alpha", "beta")},
        "varpro_with_bootstrap_wall_s": round(varpro_wall, 2), "varpro_with_bootstrap_cpu_s": round(varpro_cpu, 2),
        "varpro_speedup_wall": round(full_wall / varpro_wall, 1),
        "varpro_fitted": {name: round(float(getattr(projected, name)), 4) for name in ("E", "alpha", "beta")},
        "varpro_vs_huber_max_relative_difference": float(f"{max(abs(getattr(projected, n) / getattr(law, n) - 1) for n in ('E', 'A', 'B', 'alpha', 'beta')):.2e}"),
        "huber_polished_from_varpro_objective_relative_difference": float(f"{abs(polished.objective - law.objective) / law.objective:.2e}"),
    }
    print(json.dumps(report, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in report.items()))


if __name__ == "__main__":
    main()
