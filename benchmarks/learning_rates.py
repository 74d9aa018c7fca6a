"""The learning-rate sweep behind the isoFLOP study's per-size rates (``VALIDATED_LEARNING_RATES``).

    python benchmarks/learning_rates.py [--budgets 2.15e11] [--sizes 0.4k,...] [--rates 3e-3,1e-2,3e-2,6e-2]
                                        [--output isoflop-runs/lr-sweep] [--json]

The sweep is one isoFLOP study of the offline default's protocol (bytes, python-stdlib, 16 × 128 tokens,
cosine decay, 5 % warmup) with every size at every budget (``--bracket 0``) and a grid axis over the
learning rate (``--grid learning_rate=...``, which sets every size's rate); the study is one resumable
folder, so adding a rate trains only that rate's runs. It prints, per budget, each size's final validation
loss at each rate, the best rate, and the rate the study uses now (``isoflop isoflops --bracket 0 --grid
learning_rate=3e-3,1e-2`` gives the same table in its report).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from isoflop import build_config, run_study
from isoflop.config.studies import VALIDATED_LEARNING_RATES, IsoflopsConfig
from isoflop.results.store import Store


def sweep(budgets, sizes, rates, output: Path) -> dict[float, dict[str, dict[float, float]]]:
    """budget → size → rate → final validation loss."""
    losses: dict[float, dict[str, dict[float, float]]] = {b: {s: {} for s in sizes} for b in budgets}
    config = build_config(kind="isoflops", overrides=dict(
        budgets=budgets, model_sizes=sizes, grid={"learning_rate": rates}, bracket=0, fit_bootstrap=0,
        holdout_largest=False, output=str(output)))
    run_study(config, echo=lambda line: None, progress=False)
    with Store(output, create=False) as store:
        for record in store.records():
            if record.completed and record.config["learning_rate"] in rates:
                losses[record.budget_flops][record.grid["size"]][record.config["learning_rate"]] = record.final_val_loss
    return losses


def main() -> None:
    default = IsoflopsConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="2.15e11", help="comma-separated FLOP budgets")
    parser.add_argument("--sizes", default=",".join(default.model_sizes), help="comma-separated ladder sizes")
    parser.add_argument("--rates", default="3e-3,1e-2,3e-2,6e-2", help="comma-separated peak learning rates")
    parser.add_argument("--output", default="isoflop-runs/lr-sweep", help="folder of the sweep (one study)")
    parser.add_argument("--json", action="store_true", help="print the losses as JSON")
    args = parser.parse_args()
    budgets = tuple(float(b) for b in args.budgets.split(","))
    sizes = tuple(args.sizes.split(","))
    rates = tuple(float(r) for r in args.rates.split(","))
    losses = sweep(budgets, sizes, rates, Path(args.output))
    if args.json:
        print(json.dumps({f"{b:g}": {s: {f"{r:g}": v for r, v in by_rate.items()} for s, by_rate in by_size.items()}
                          for b, by_size in losses.items()}, indent=2))
        return
    for budget, by_size in losses.items():
        print(f"C = {budget:.3g} FLOPs: final validation loss per peak learning rate")
        print("size    " + "".join(f"{r:>9g}" for r in rates) + "     best      used")
        for size, by_rate in by_size.items():
            cells = "".join(f"{by_rate[r]:9.4f}" if r in by_rate else f"{'-':>9}" for r in rates)
            best = min(by_rate, key=by_rate.get) if by_rate else float("nan")
            used = VALIDATED_LEARNING_RATES.get(size, default.optimizer.learning_rate)
            print(f"{size:<8}{cells}  {best:>7g}  {used:>8g}")


if __name__ == "__main__":
    main()
