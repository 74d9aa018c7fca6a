"""Per-run time and throughput of the reference and batched engines on a scarcity study.

    python benchmarks/engines.py                                   # the offline default, CPU
    python benchmarks/engines.py --model scratch:distilgpt2 --runs 32 --precision bf16   # GPU box

Prints one line per engine: wall and CPU (process) seconds per run, achieved TFLOP/s
(training plus the evaluations, in the study's FLOP convention), and the ratio.
"""

from __future__ import annotations

import argparse
import time

import torch

from isoflop import build_config
from isoflop.budget import evaluation_flops
from isoflop.data.prepare import prepare_data
from isoflop.engines.base import Pack
from isoflop.engines.registry import entry
from isoflop.models.build import model_facts
from isoflop.studies.scarcity import STUDY
from isoflop.tokenization.resolve import load_tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="scratch:tiny")
    parser.add_argument("--runs", type=int, default=7, help="runs in the batched pack (D = 1..runs)")
    parser.add_argument("--reference-runs", type=int, default=2, help="runs timed with the reference engine")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    args = parser.parse_args()

    config = build_config(overrides={"model": args.model, "unique_samples": tuple(range(1, args.runs + 1)),
                                     "precision": args.precision})
    tokenizer = load_tokenizer(config.tokenizer.tokenizer)
    plan = STUDY.plan(config, len(tokenizer), lambda spec: model_facts(spec, len(tokenizer)))
    data = prepare_data(config.data, tokenizer, plan.train_samples(), config.evaluation.eval_samples, STUDY.data_advice)
    first = plan.runs[0]
    eval_tokens = config.evaluation.eval_samples * config.data.seq_len * len(first.spec.eval_steps)
    flops_per_run = first.budget_flops + evaluation_flops(first.flops_per_token, eval_tokens)
    device = "cuda" if torch.cuda.is_available() else f"cpu ({torch.get_num_threads()} threads)"
    print(f"model {args.model} ({first.facts.parameters.total:,} parameters), {device}, {args.precision}, "
          f"{first.spec.steps} steps, eval {config.evaluation.eval_samples} x {config.data.seq_len} tokens per step")

    timings = {}
    for name, runs in (("reference", plan.runs[: args.reference_runs]), ("batched", plan.runs)):
        engine = entry(name).load()(config.engine.model_copy(update={"engine": name}))
        wall, cpu = time.perf_counter(), time.process_time()
        results = list(engine.train(Pack(tuple(run.spec for run in runs)), data, lambda n: None))
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        per_run = (time.perf_counter() - wall) / len(results)
        cpu_per_run = (time.process_time() - cpu) / len(results)
        timings[name] = per_run
        print(f"{name:>9}: {len(results):3d} runs, {per_run:8.3f} s/run wall, {cpu_per_run:8.3f} s/run CPU, "
              f"{flops_per_run / per_run / 1e12:8.4f} TFLOP/s")
    print(f"    ratio: batched is {timings['reference'] / timings['batched']:.2f}x the reference per run")


if __name__ == "__main__":
    main()
