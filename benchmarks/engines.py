"""Per-run time and throughput of the reference and batched engines on a scarcity study.

    python benchmarks/engines.py                                   # the offline default, CPU
    python benchmarks/engines.py --model scratch:distilgpt2 --runs 32 --precision bf16   # GPU box

Prints one line per engine: seconds per run, achieved TFLOP/s (6·N·tokens for training
plus 2·N·tokens for the evaluation after every step), and the batched/reference ratio.
"""

from __future__ import annotations

import argparse
import time

import torch

from isoflop import build_config, prepare
from isoflop.engines import BatchedEngine, ReferenceEngine
from isoflop.studies.plan import plan_runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="scratch:tiny")
    parser.add_argument("--runs", type=int, default=7, help="runs in the batched pack (D cycles over 1..100)")
    parser.add_argument("--reference-runs", type=int, default=2, help="runs timed with the reference engine")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    args = parser.parse_args()

    grid = tuple(range(1, args.runs + 1))
    config = build_config(overrides={"model": args.model, "unique_samples": grid, "precision": args.precision})
    prepared = prepare(config)
    runs = plan_runs(config)
    setup = prepared.setup
    flops_per_run = setup.budget.train_flops(prepared.parameters.total) + setup.budget.eval_flops(
        prepared.parameters.total, config.eval_samples
    )
    device = "cuda" if torch.cuda.is_available() else f"cpu ({torch.get_num_threads()} threads)"
    print(f"model {args.model} ({prepared.parameters.total:,} parameters), {device}, {args.precision}, "
          f"{setup.budget.steps} steps, eval {config.eval_samples} x {config.seq_len} tokens per step")

    timings = {}
    for name, engine, subset in (
        ("reference", ReferenceEngine(precision=args.precision), runs[: args.reference_runs]),
        ("batched", BatchedEngine(precision=args.precision, max_members=len(runs)), runs),
    ):
        started = time.perf_counter()
        results = list(engine.train(setup, subset, lambda n: None))
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        per_run = (time.perf_counter() - started) / len(results)
        timings[name] = per_run
        print(f"{name:>9}: {len(results):3d} runs, {per_run:8.3f} s/run, {flops_per_run / per_run / 1e12:8.4f} TFLOP/s")
    print(f"    ratio: batched is {timings['reference'] / timings['batched']:.2f}x the reference per run")


if __name__ == "__main__":
    main()
