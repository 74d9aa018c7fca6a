"""Engines compared on the studies users run: wall and CPU seconds per run, their ratio, and how far the losses differ.

    python benchmarks/engines.py [--json]              # both cases below, on this machine
    python benchmarks/engines.py --precision bf16      # the engine in bf16 against the reference in fp32 and in bf16

Cases: the offline default scarcity study (7 runs, scratch:tiny, GPT-2 vocabulary, 100 steps,
10 x 64 validation tokens after every step) and a 4-run study of the distilgpt2 architecture
(10 steps). Dropout is 0 so that engines can be compared step by step (max |Δloss| over every
training and validation loss). The reference engine runs in this process as the project ran it
before (PyTorch's threads); the new engine runs through the given executor. CPU seconds are
process time, worker processes included. With ``--precision bf16`` the engine trains in bf16 and is
compared, in the same run, with the reference in fp32 (the speed users gain) and in bf16 (the Trainer
at the same precision); on a CPU without native bf16 that is said, and nothing is measured.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import torch

from isoflop import build_config
from isoflop.data.prepare import prepare_data
from isoflop.config.engines import entry
from isoflop.execution.base import load_executor
from isoflop.hardware import bf16_missing, describe_cpu
from isoflop.models.build import model_facts
from isoflop.studies.scarcity import STUDY
from isoflop.studies.runner import make_packs
from isoflop.tokenization.resolve import load_tokenizer

CASES = {
    "offline default (7 runs, 100 steps)": {"dropout": 0.0, "seeds": (1,)},
    "distilgpt2 architecture (4 runs, 10 steps)": {"model": "scratch:distilgpt2", "budget_passes": 10,
                                                   "unique_samples": (1, 2, 5, 10), "dropout": 0.0},
}


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(engine_name: str, executor_name: str, workers: int | None, overrides: dict, precision: str = "fp32") -> dict:
    config = build_config(overrides=overrides | {"engine": engine_name, "executor": executor_name, "workers": workers,
                                                 "precision": precision})
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


def gap(first: dict, second: dict) -> float:
    """max |Δloss| over every training and validation loss of the runs both hold."""
    common = first["losses"].keys() & second["losses"].keys()
    return max(abs(a - b) for label in common for a, b in zip(first["losses"][label], second["losses"][label]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="fast", help="the engine compared with the reference")
    parser.add_argument("--executor", default="processes", choices=["inprocess", "processes"])
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="the engine's precision")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    report = {"machine": f"{describe_cpu()}, {torch.get_num_threads()} threads", "engine": args.engine,
              "precision": args.precision, "executor": args.executor, "cases": {}}
    if args.precision == "bf16" and not torch.cuda.is_available() and (missing := bf16_missing()):
        report["unmeasured"] = f"{missing}: bf16 is not measured here"
        print(json.dumps(report, indent=2) if args.json else report["unmeasured"])
        return
    # The references: fp32 always; with bf16, the Trainer in bf16 too.
    references = ["fp32"] + (["bf16"] if args.precision == "bf16" else [])
    for name, overrides in CASES.items():
        new = measure(args.engine, args.executor, args.workers, overrides, args.precision)
        case = {f"{args.engine}_{args.precision}_wall_s_per_run": round(new["wall_per_run"], 3),
                f"{args.engine}_{args.precision}_cpu_s_per_run": round(new["cpu_per_run"], 3)}
        measured = {}
        for precision in references:
            reference = measured[precision] = measure("reference", "inprocess", None, overrides, precision)
            delta = gap(reference, new)
            tag = "reference" if args.precision == "fp32" else f"reference_{precision}"
            case |= {f"{tag}_wall_s_per_run": round(reference["wall_per_run"], 3),
                     f"wall_ratio_vs_{tag}": round(reference["wall_per_run"] / new["wall_per_run"], 2),
                     f"{tag}_cpu_s_per_run": round(reference["cpu_per_run"], 3),
                     f"cpu_ratio_vs_{tag}": round(reference["cpu_per_run"] / new["cpu_per_run"], 2),
                     f"max_abs_delta_loss_vs_{tag}": float(f"{delta:.3g}")}
        if len(measured) == 2:  # how far two valid bf16 trainings part: from fp32, and from the same at one thread
            threads = torch.get_num_threads()
            torch.set_num_threads(1)  # another summation order: in fp32 it moves no loss by more than ~1e-5
            try:
                other_order = measure("reference", "inprocess", None, overrides, "bf16")
            finally:
                torch.set_num_threads(threads)
            case["max_abs_delta_loss_reference_bf16_vs_fp32"] = float(f"{gap(measured['bf16'], measured['fp32']):.3g}")
            case["max_abs_delta_loss_reference_bf16_one_thread_vs_two"] = float(f"{gap(measured['bf16'], other_order):.3g}")
        report["cases"][name] = case
        if not args.json:
            print(name, json.dumps(case))
    if args.json:
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
