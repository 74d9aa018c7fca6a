"""Backtests of the forecast intervals on real public data the project did not produce.

    python benchmarks/backtest.py [--data ../shared/data] [--resamples 200] [--json FILE]

The rule of ``isoflop.fit.forecast`` was written down (and committed) before this script was first run;
no constant here or there was changed after seeing its numbers.

**The isoFLOP ladder** (``ladders/marin2025_dclm_isoflop_runs.csv``, 7 budgets): rolling origin, as a
lab forecasts: fit on the k smallest budgets (k = 3 … 6), forecast each larger one, with N counted two
ways (all parameters; non-embedding). Each held-out budget's truth is its parabola's vertex (the
compute-optimal loss, for an interval of the law's value) and its best trained run (for an interval of a
new run's loss). Methods:

- ``today``: what ``isoflop advise`` printed before, the frontier (its form chosen by the fit) with the
  percentile band of 200 bootstrap resamples of the per-budget minima;
- ``new (law)`` and ``new (new run)``: ``isoflop.fit.fit_allocation(...).predict(C, kind)``;
- ``baseline``: a parabola per budget, then E + A·C^−α by least squares, with a plain t prediction interval
  (the fit's covariance by the delta method plus the residual variance, t on K − 3 degrees of freedom).

**The fine-tuning table** (``finetune-scaling/gigaword.csv``, 30 models × 14 data sizes > 0): each model is
fitted on its 11 smaller sizes and forecasts the 3 largest (a single run each, so ``new run`` is the kind
that is checked). Methods: ``new`` (``fit_finetune``), ``rectified`` alone (its point forecast), and
``power law``: B·D^−β fitted in log space with its t prediction interval.

MAPE is the mean absolute percentage error of the point forecast; coverage counts the 95 % intervals that
hold the truth; width is the mean interval width relative to the forecast.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import stats
from scipy.optimize import OptimizeWarning, curve_fit

from isoflop.errors import UsageError
from isoflop.fit import fit_allocation, fit_finetune
from isoflop.fit.budgets import group_budgets
from isoflop.fit.forms import form
from isoflop.fit.isoflop_profiles import approach2, budget_minimum, fit_frontier
from isoflop.fit.powerlaw import percentile_interval

LADDER = "ladders/marin2025_dclm_isoflop_runs.csv"
FINETUNE = "finetune-scaling/gigaword.csv"
HELD_OUT_SIZES = 3
LEVEL = 0.95


def read_ladder(path: Path) -> dict[str, np.ndarray]:
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    return {name: np.array([float(r[name]) for r in rows]) for name in ("N", "N_nonemb", "D", "C", "loss")}


def today(N, D, loss, budgets, target: float):
    """The frontier as ``advise`` used it before: the form the fit chose, the minima bootstrap's percentile band."""
    fitted = approach2(N, D, loss, budgets, None, bootstrap=0)
    frontier = fit_frontier([m.flops for m in fitted.minima], [m.loss for m in fitted.minima], bootstrap=200)
    band = [e + a * target**-g for e, a, g in frontier.samples]
    return float(frontier(target)), (percentile_interval(band) if band else None)


def plain_baseline(x, y, target: float, model, start, bounds):
    """Least squares of ``model``, its t prediction interval at ``target`` (delta method + residual variance)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        params, covariance = curve_fit(model, x, y, p0=start, bounds=bounds, maxfev=20000)
    freedom = len(x) - len(params)
    value = float(model(target, *params))
    if freedom < 1 or not np.isfinite(covariance).all():
        return value, None
    residual = float(((y - model(x, *params)) ** 2).sum() / freedom)
    step = 1e-6 * np.maximum(np.abs(params), 1e-8)
    gradient = np.array([(model(target, *(params + np.eye(len(params))[i] * step[i])) - value) / step[i]
                         for i in range(len(params))])
    half = stats.t.ppf((1 + LEVEL) / 2, freedom) * np.sqrt(gradient @ covariance @ gradient + residual)
    return value, (value - half, value + half)


def baseline(N, D, loss, budgets, target: float):
    fitted = approach2(N, D, loss, budgets, None, bootstrap=0)
    C = np.array([m.flops for m in fitted.minima])
    L = np.array([m.loss for m in fitted.minima])
    scale = float(np.median(C))

    def model(c, e, a, alpha):
        return e + a * (c / scale) ** -alpha

    return plain_baseline(C, L, target, model, (0.5 * L.min(), L.max() - 0.5 * L.min(), 0.1),
                          ([0, 0, 0], [L.min(), 50, 5]))


def ladder_backtest(data: dict, resamples: int) -> dict:
    budgets, _ = group_budgets(data["C"])
    levels = np.unique(budgets)
    results: dict[str, dict[str, list]] = {}
    for count, column in (("total", "N"), ("non-embedding", "N_nonemb")):
        N, D, loss = data[column], data["D"], data["loss"]
        for k in range(3, len(levels)):
            kept = budgets <= levels[k - 1]
            law = fit_allocation(N[kept], D[kept], loss[kept], budgets[kept], parameters=count, resamples=resamples)
            for target in levels[k:]:
                here = budgets == target
                truth = {"vertex": budget_minimum(N, D, loss, budgets, float(target)).loss, "best run": float(loss[here].min())}
                rows = {
                    "today": today(N[kept], D[kept], loss[kept], budgets[kept], target),
                    "baseline": baseline(N[kept], D[kept], loss[kept], budgets[kept], target),
                }
                for kind in ("law", "new run"):
                    forecast = law.predict(float(target), kind)
                    rows[f"new ({kind})"] = (forecast.value, forecast.interval)
                for method, (value, interval) in rows.items():
                    results.setdefault(method, {}).setdefault("rows", []).append(
                        {"N": count, "k": k, "C": float(target), "value": value,
                         "interval": list(interval) if interval else None, **truth})
    return summarise(results, {"today": "vertex", "baseline": "vertex", "new (law)": "vertex", "new (new run)": "best run"})


def summarise(results: dict, truth_of: dict) -> dict:
    out = {}
    for method, found in results.items():
        rows = found["rows"]
        truth = truth_of[method]
        errors = [abs(r["value"] / r[truth] - 1) for r in rows]
        with_interval = [r for r in rows if r["interval"]]
        out[method] = {
            "truth": truth, "forecasts": len(rows), "MAPE": float(np.mean(errors)),
            "covered": int(sum(r["interval"][0] <= r[truth] <= r["interval"][1] for r in with_interval)),
            "with_interval": len(with_interval),
            "mean_width": float(np.mean([(r["interval"][1] - r["interval"][0]) / r["value"] for r in with_interval]))
            if with_interval else None,
            "rows": rows,
        }
        if truth == "vertex":
            out[method]["covered_best_run"] = int(sum(r["interval"][0] <= r["best run"] <= r["interval"][1] for r in with_interval))
    return out


def read_finetune(path: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    with path.open(encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        sizes = [(i, float(h)) for i, h in enumerate(header) if h.replace(".", "").isdigit() and float(h) > 0]
        models = []
        for row in reader:
            models.append((row[0], np.array([d for _, d in sizes]), np.array([float(row[i]) for i, _ in sizes])))
    return models


def finetune_backtest(models, resamples: int) -> dict:
    results: dict[str, dict[str, list]] = {}
    for name, D, loss in models:
        fitted, held = slice(0, len(D) - HELD_OUT_SIZES), slice(len(D) - HELD_OUT_SIZES, None)
        try:
            law = fit_finetune(D[fitted], loss[fitted], resamples=resamples)
        except UsageError as error:
            print(f"{name}: {error}", file=sys.stderr)
            continue
        rectified = next(f for f in law.law.fits if f.form == "rectified")

        def power(d, log_b, beta):
            return log_b - beta * np.log(d)

        for target, truth in zip(D[held], loss[held]):
            forecast = law.predict(float(target), "new run")
            value, interval = plain_baseline(D[fitted], np.log(loss[fitted]), float(target), power, (np.log(loss[fitted][0]), 0.1),
                                             ([-50, 0], [50, 5]))
            rows = {"new (new run)": (forecast.value, forecast.interval),
                    "rectified alone": (float(form("rectified")(rectified.params, target)), None),
                    "power law": (float(np.exp(value)), tuple(np.exp(interval)) if interval else None)}
            for method, (point, band) in rows.items():
                results.setdefault(method, {}).setdefault("rows", []).append(
                    {"model": name, "D": float(target), "value": point, "interval": list(band) if band else None,
                     "loss": float(truth)})
    return summarise(results, dict.fromkeys(results, "loss"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--resamples", type=int, default=200)
    parser.add_argument("--json", default=None, help="also write every forecast (with its interval and truth) to this file")
    args = parser.parse_args()
    data = Path(args.data)
    started = time.perf_counter()
    report = {"ladder": ladder_backtest(read_ladder(data / LADDER), args.resamples)}
    middle = time.perf_counter()
    report["finetune"] = finetune_backtest(read_finetune(data / FINETUNE), args.resamples)
    report["seconds"] = {"ladder": round(middle - started, 1), "finetune": round(time.perf_counter() - middle, 1)}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=float) + "\n", encoding="utf-8")
    for dataset in ("ladder", "finetune"):
        print(f"{dataset}: method | truth | forecasts | MAPE | covered | mean width")
        for method, row in report[dataset].items():
            width = f"{row['mean_width']:.2%}" if row["mean_width"] is not None else "-"
            print(f"  {method:16s} | {row['truth']:8s} | {row['forecasts']:3d} | {row['MAPE']:.2%} | "
                  f"{row['covered']}/{row['with_interval']} | {width}")
    print(f"seconds: {report['seconds']}")


if __name__ == "__main__":
    sys.exit(main())
