"""Engines compared on the studies users run: wall and CPU seconds per run, their ratio, and how far the losses differ.

    python benchmarks/engines.py [--json]              # both cases below, on this machine
    python benchmarks/engines.py --device cuda ...     # on a GPU box: the batched engine in bf16 or fp32

Cases: the offline default scarcity study (7 runs, scratch:tiny, GPT-2 vocabulary, 100 steps,
10 x 64 validation tokens after every step) and a 4-run study of the distilgpt2 architecture
(10 steps). Dropout is 0 so that engines can be compared step by step (max |Δloss| over every
training and validation loss). The reference engine runs in this process as the project ran it
before (PyTorch's threads); the new engine runs through the given executor. CPU seconds are
process time, worker processes included.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time

import torch

from isoflop import build_config
from isoflop.data.prepare import prepare_data
from isoflop.config.engines import entry
from isoflop.execution.base import load_executor
from isoflop.models.build import model_facts
from isoflop.studies.scarcity import STUDY
from isoflop.studies.runner import make_packs
from isoflop.tokenization.resolve import load_tokenizer

CASES = {
    "offline default (7 runs, 100 steps)": {"dropout": 0.0},
    "distilgpt2 architecture (4 runs, 10 steps)": {"model": "scratch:distilgpt2", "budget_passes": 10,
                                                   "unique_samples": (1, 2, 5, 10), "dropout": 0.0},
}


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(engine_name: str, executor_name: str, workers: int | None, overrides: dict) -> dict:
    config = build_config(overrides=overrides | {"engine": engine_name, "executor": executor_name, "workers": workers})
    tokenizer = load_tokenizer(config.tokenizer.tokenizer)
    plan = STUDY.plan(config, len(tokenizer), lambda spec: model_facts(spec, len(tokenizer)))
    data = prepare_data(config.data, tokenizer, plan.train_samples(), config.evaluation.eval_samples, STUDY.data_advice)
    engine = entry(engine_name).load()(config.engine)
    packs = make_packs(plan.runs, engine, data, None, None)
    wall, cpu = time.perf_counter(), cpu_seconds()
    results = list(load_executor(config.execution).run(engine, packs, data, lambda n: None))
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    position = {run.spec.key: run.spec.label for run in plan.runs}  # keys name the engine; labels do not
    return {"runs": len(results), "wall_per_run": wall / len(results), "cpu_per_run": cpu / len(results),
            "losses": {position[r.key]: r.train_loss + r.val_loss for r in results}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="fast", help="the engine compared with the reference")
    parser.add_argument("--executor", default="processes", choices=["inprocess", "processes"])
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    report = {"machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
              "engine": args.engine, "executor": args.executor, "cases": {}}
    for name, overrides in CASES.items():
        reference = measure("reference", "inprocess", None, overrides)
        new = measure(args.engine, args.executor, args.workers, overrides)
        delta = max(abs(a - b) for key in reference["losses"] for a, b in zip(reference["losses"][key], new["losses"][key]))
        report["cases"][name] = {
            "reference_wall_s_per_run": round(reference["wall_per_run"], 3),
            f"{args.engine}_wall_s_per_run": round(new["wall_per_run"], 3),
            "wall_ratio": round(reference["wall_per_run"] / new["wall_per_run"], 2),
            "reference_cpu_s_per_run": round(reference["cpu_per_run"], 3),
            f"{args.engine}_cpu_s_per_run": round(new["cpu_per_run"], 3),
            "cpu_ratio": round(reference["cpu_per_run"] / new["cpu_per_run"], 2),
            "max_abs_delta_loss": float(f"{delta:.3g}"),
        }
        if not args.json:
            print(name, json.dumps(report["cases"][name]))
    if args.json:
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
