"""One SLURM array task: train one pack and record each run into the study folder's inbox.

The task reads its pack file and the round's setup (engine, prepared data) from ``OUTPUT/slurm/``, counts its
start, trains the runs of its pack that no earlier start finished, and writes each finished run's record to the
inbox. SLURM's warning before a time limit or a preemption (``--signal=USR2@N``) asks the engine to write the
pack's checkpoint at its next step and stop; the task then requeues itself (same job id) and, started again,
resumes from that checkpoint with the numbers of an uninterrupted run. After ``max_attempts`` starts it no
longer requeues: the unfinished runs are recorded as failed with the reason. Any other error ends the task with
its traceback in the log (the driver submits the pack again, or records it failed after ``max_attempts``).
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import signal
from pathlib import Path

from ..engines.base import RunResult
from ..files import write_atomic
from ..provenance import library_versions
from ..training.checkpoints import Stopped, request_stop
from . import slurm_queue
from .inbox import Inbox
from .slurm_files import PACKS, SIGNAL, SLURM_FOLDER, PackFile, starts, starts_path


def run_pack(folder: str, pack: str) -> int:
    """Train pack ``pack`` of the study in ``folder``; the number of runs recorded by this start."""
    import torch

    from ..quiet import silence_libraries

    silence_libraries()
    root = Path(folder) / SLURM_FOLDER
    job: PackFile = pickle.loads((root / PACKS / f"{pack}.pkl").read_bytes())
    engine, data = pickle.loads((root / job.setup).read_bytes())
    torch.set_num_threads(int(os.environ.get("SLURM_CPUS_PER_TASK", "1")))
    # Provenance of the node it trains on (its CPU, its libraries), not of the submitting machine.
    versions = job.record.versions | library_versions() | getattr(engine, "provenance", dict)()
    record = dataclasses.replace(job.record, versions=versions)
    attempt = starts(Path(folder), pack) + 1
    write_atomic(starts_path(Path(folder), pack), str(attempt))
    inbox = Inbox(folder)
    runs = tuple(run for run in job.pack.runs if not inbox.finished(run.key))
    recorded = 0
    previous = signal.signal(getattr(signal, f"SIG{SIGNAL}"), lambda *_: request_stop())
    try:
        for result in engine.train(dataclasses.replace(job.pack, runs=runs), data, lambda steps: None):
            inbox.put(record(dataclasses.replace(result, attempts=attempt), data))
            recorded += 1
    except Stopped:
        if attempt < job.max_attempts:
            slurm_queue.requeue(_job_id())
            return recorded
        for run in runs:
            if not inbox.finished(run.key):
                reason = (f"stopped by SLURM's warning {attempt} times (time limit or preemption) before it finished; "
                          "raise --slurm-time or --max-attempts")
                inbox.put(record(RunResult(key=run.key, engine=engine.name, status="failed", wall_seconds=0.0,
                                               attempts=attempt, error=reason), data))
                recorded += 1
    finally:
        signal.signal(getattr(signal, f"SIG{SIGNAL}"), previous)
    return recorded


def _job_id() -> str:
    """This task's own job id: ARRAY_TASK for an array task."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    return f"{array}_{task}" if array and task else os.environ["SLURM_JOB_ID"]
