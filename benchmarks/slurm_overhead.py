"""What SLURM costs a small study: the same 4-pack scarcity study through worker processes and through the slurm
executor, on whatever cluster ``sbatch`` reaches (``SLURM_CONF``), numbers compared run by run.

    python benchmarks/slurm_overhead.py [--repeats 2]

Each executor runs the study into a fresh folder; the wall time is the whole command as a user waits for it
(planning, data, training, merging, the report). Print-only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from isoflop import build_config, run_study
from isoflop.results.store import read_records

STUDY = {"unique_samples": (1, 2, 5, 10), "seeds": (1,), "budget_passes": 200, "engine": "fast"}
EXECUTORS = {"processes": {"executor": "processes", "workers": 2},
             "slurm": {"executor": "slurm", "slurm_poll_seconds": 1.0, "slurm_cpus_per_pack": 1}}


def timed(name: str, folder: Path) -> tuple[float, dict]:
    config = build_config(None, None, STUDY | EXECUTORS[name] | {"output": str(folder)}, kind="scarcity")
    started = time.perf_counter()
    run_study(config, echo=lambda line: None, progress=False)
    seconds = time.perf_counter() - started
    return seconds, {r.label: r.final_val_loss for r in read_records(folder)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    repeats = parser.parse_args().repeats
    root = Path(tempfile.mkdtemp(prefix="slurm-overhead-"))
    try:
        times: dict[str, list[float]] = {name: [] for name in EXECUTORS}
        answers = {}
        for repeat in range(repeats):
            for name in EXECUTORS:
                seconds, answers[name] = timed(name, root / f"{name}-{repeat}")
                times[name].append(seconds)
                print(f"{name:<10} repeat {repeat + 1}: {seconds:6.1f} s")
        best = {name: min(values) for name, values in times.items()}
        print(f"best of {repeats}: processes {best['processes']:.1f} s, slurm {best['slurm']:.1f} s "
              f"({best['slurm'] / best['processes']:.2f}x the processes time)")
        print(f"numbers equal run by run: {answers['processes'] == answers['slurm']}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
