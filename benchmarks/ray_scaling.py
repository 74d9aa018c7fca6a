"""The Ray executor's scaling and overhead: one 8-run study, in-process and on 1 and 2 local Ray workers.

    python benchmarks/ray_scaling.py [--json]

The study: 8 scarcity runs (scratch:tiny, byte-level tokenizer, the embedded corpus, 100
steps), fast engine. Every variant trains with one thread per worker, so the in-process
run and the one-worker Ray run do the same work and their difference is Ray's overhead
(task dispatch, the object store, progress reports, results coming back). Ray's start-up
is timed on its own; the study times include the store writes and the reports.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import ray
import torch

from isoflop import build_config, run_study

STUDY = {"tokenizer": "bytes", "model": "scratch:tiny", "unique_samples": (1, 2, 4, 8, 16, 32, 64, 100),
         "engine": "fast", "dropout": 0.0}


def timed_study(folder: str, **execution) -> float:
    config = build_config(overrides=STUDY | {"output": folder} | execution)
    started = time.perf_counter()
    outcome = run_study(config, echo=lambda _: None, progress=False)
    assert outcome.trained == 8, outcome
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as scratch:
        inprocess = timed_study(f"{scratch}/inprocess", executor="inprocess")
        started = time.perf_counter()
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
        startup = time.perf_counter() - started
        one = timed_study(f"{scratch}/ray1", executor="ray", workers=1)
        two = timed_study(f"{scratch}/ray2", executor="ray", workers=2)
        ray.shutdown()
    report = {
        "runs": 8,
        "inprocess_wall_s": round(inprocess, 2),
        "ray_startup_s": round(startup, 2),
        "ray_1_worker_wall_s": round(one, 2),
        "ray_2_workers_wall_s": round(two, 2),
        "scaling_2_vs_1": round(one / two, 2),
        "ray_overhead_1_worker_vs_inprocess": f"{(one / inprocess - 1) * 100:+.1f}%",
    }
    print(json.dumps(report, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in report.items()))


if __name__ == "__main__":
    main()
