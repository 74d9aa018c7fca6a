"""Packs as SLURM array tasks: one job array per round, a pack per task, results that survive the driver.

The driver (the study command) writes what the tasks need into the study folder (``OUTPUT/slurm/``: the
engine and prepared data once per round, one file per pack), submits one job array through submitit, and
records which runs each task trains in a ledger (``slurm/jobs.json``). A task trains its pack and writes each
finished run's record to the folder's inbox (``execution.inbox``); the driver, which alone holds the store, merges
the inbox as it fills. Nothing depends on the driver staying alive: killed, or detached on purpose
(``--detach``), its tasks go on, and ``isoflop status`` or the same study command merges their runs later and
resubmits only what is neither finished nor queued.

Faults: a task that ends without its runs (killed, out of memory, a node lost, an error) is submitted again, up
to ``max_attempts`` starts in all, after which its runs are stored as failed with the last line of its log. A
task warned by SLURM before its time limit or a preemption (``--signal``) checkpoints its pack and requeues
itself (``execution.slurm_task``); it resumes from the checkpoint with the numbers of an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import pickle
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ..config.parts import ExecutionConfig, SlurmConfig, slurm_seconds
from ..data.prepare import PreparedData
from ..engines.base import Engine, Pack, RunResult, StepCallback
from ..errors import UsageError, first_line
from ..files import write_atomic
from ..results.records import RunRecord
from . import slurm_queue
from .inbox import Inbox
from .slurm_files import LOGS, PACKS, SIGNAL, SLURM_FOLDER, Ledger, PackFile, log_path, pack_id, starts

def sbatch_options(slurm: SlurmConfig, name: str) -> dict:
    """The submitit parameters of one job array (every task asks for one pack's resources)."""
    options = {
        "job_name": name, "time": math.ceil(slurm_seconds(slurm.slurm_time) / 60), "partition": slurm.slurm_partition,
        "account": slurm.slurm_account, "qos": slurm.slurm_qos, "cpus_per_task": slurm.slurm_cpus_per_pack,
        "gpus_per_node": slurm.slurm_gpus_per_pack or None, "mem": slurm.slurm_mem,
        "constraint": slurm.slurm_constraint, "signal_delay_s": slurm.slurm_signal_seconds, "ntasks_per_node": 1,
        "additional_parameters": {"requeue": True} | dict(_option(line) for line in slurm.slurm_sbatch),
    }
    if slurm.slurm_array_parallelism is not None:
        options["array_parallelism"] = slurm.slurm_array_parallelism
    return {name: value for name, value in options.items() if value is not None}


def sbatch_lines(slurm: SlurmConfig, name: str, tasks: int) -> list[str]:
    """The ``#SBATCH`` lines a job array of ``tasks`` packs asks with, as ``--dry-run`` shows them."""
    options = sbatch_options(slurm, name)
    extra = options.pop("additional_parameters")
    parallel = min(tasks, options.pop("array_parallelism", tasks))
    lines = {"array": f"0-{tasks - 1}%{parallel}", "signal": f"{SIGNAL}@{options.pop('signal_delay_s')}"}
    lines |= {key: value for key, value in options.items()} | extra
    return [f"#SBATCH --{key.replace('_', '-')}" + ("" if value is True else f"={value}")
            for key, value in sorted(lines.items())]


def _option(line: str) -> tuple[str, object]:
    key, _, value = line.partition("=")
    return key.replace("-", "_"), value if value else True


class SlurmExecutor:
    """Packs as SLURM array tasks; each task records its own runs into the study folder's inbox."""

    name = "slurm"
    records_remotely = True

    def __init__(self, execution: ExecutionConfig, slurm: SlurmConfig, folder: Path, kind: str):
        self.execution, self.slurm, self.folder, self.kind = execution, slurm, Path(folder), kind
        self.submitted: list[str] = []  # job arrays submitted by this call
        self.queued_before = 0  # runs found already queued, not submitted again

    def check(self) -> None:
        slurm_queue.check_cluster(self.slurm.slurm_partition)

    def records(self, engine: Engine, packs: list[Pack], data: PreparedData, on_step: StepCallback,
                record: Callable[[RunResult, PreparedData], RunRecord]) -> Iterator[RunRecord]:
        """Submit the runs not already queued; unless detached, merge each run as it finishes, resubmit lost
        packs, and end when every run is recorded."""
        inbox, ledger = Inbox(self.folder), Ledger(self.folder)
        queue = slurm_queue.queued()
        submit = []
        for pack in packs:
            for run in pack.runs:
                inbox.forget(run.key)  # still to train: a mark left by an earlier, failed try no longer holds
            live = tuple(run for run in pack.runs if ledger.job_of(run.key) in queue)
            self.queued_before += len(live)
            rest = tuple(run for run in pack.runs if run not in live)
            if rest:
                submit.append(dataclasses.replace(pack, runs=rest))
        self._submit(submit, engine, data, record, ledger)
        if self.slurm.detach:
            return
        yield from self._follow({run.key: (pack, run) for pack in packs for run in pack.runs}, data, record, inbox,
                                ledger, on_step, engine)

    def _submit(self, packs: list[Pack], engine: Engine, data: PreparedData, record, ledger: Ledger) -> None:
        """One job array of ``packs``, its tasks recorded in the ledger before this returns."""
        if not packs:
            return
        import submitit

        from .slurm_task import run_pack

        root = self.folder / SLURM_FOLDER
        (root / PACKS).mkdir(parents=True, exist_ok=True)
        setup = pickle.dumps((engine, data), protocol=pickle.HIGHEST_PROTOCOL)
        setup_name = f"setup-{hashlib.sha256(setup).hexdigest()[:16]}.pkl"
        if not (root / setup_name).exists():
            write_atomic(root / setup_name, setup)
        ids = [pack_id(pack) for pack in packs]
        for pack, identifier in zip(packs, ids):
            own = dataclasses.replace(record, planned={run.key: record.planned[run.key] for run in pack.runs})
            write_atomic(root / PACKS / f"{identifier}.pkl",
                         pickle.dumps(PackFile(setup_name, pack, own, self.execution.max_attempts)))
        executor = submitit.SlurmExecutor(folder=root / LOGS, max_num_timeout=0)
        executor.update_parameters(**sbatch_options(self.slurm, f"isoflop-{self.kind}"))
        try:
            jobs = executor.map_array(run_pack, [str(self.folder)] * len(packs), ids)
        except Exception as error:  # submitit raises its own errors for sbatch's refusals
            raise UsageError(f"SLURM refused the job array ({first_line(error)}); check the --slurm-* settings") from None
        for pack, identifier, job in zip(packs, ids, jobs):
            ledger.submitted(identifier, job.job_id, {run.key: run.label for run in pack.runs})
        ledger.save()
        self.submitted.append(jobs[0].job_id.split("_")[0])

    def _follow(self, runs: dict[str, tuple[Pack, object]], data, record, inbox: Inbox, ledger: Ledger,
                on_step: StepCallback, engine: Engine) -> Iterator[RunRecord]:
        """Merge finished runs as they arrive; a task that left the queue without its runs is submitted again, or
        after ``max_attempts`` its runs are recorded as failed with the last line of its log."""
        open_keys = set(runs)
        while open_keys:
            queue = slurm_queue.queued()  # before the inbox: a task writes its runs before it leaves the queue
            for path in inbox.waiting():
                done = inbox.read(path)
                if done.key in open_keys:  # any other run waits for the next merge_into, which knows the store
                    yield done  # stored by the caller before this resumes
                    inbox.merged(path)
                    on_step(runs[done.key][1].steps)
                    open_keys.discard(done.key)
            lost: dict[str, list[str]] = {}
            for key in sorted(open_keys):
                identifier = ledger.entry_of(key)
                if ledger.packs[identifier]["job"] not in queue and not inbox.finished(key):
                    lost.setdefault(identifier, []).append(key)
            resubmit = []
            for identifier, keys in lost.items():
                entry = ledger.packs[identifier]
                attempts = max(entry["submissions"], starts(self.folder, identifier))
                if attempts < self.execution.max_attempts:
                    pack = runs[keys[0]][0]
                    resubmit.append(dataclasses.replace(pack, runs=tuple(runs[key][1] for key in keys)))
                    continue
                reason = (f"its SLURM task ended without its results {attempts} time(s) (last: job {entry['job']}: "
                          f"{slurm_queue.last_line(log_path(self.folder, entry['job']))})")
                for key in keys:
                    yield record(RunResult(key=key, engine=engine.name, status="failed", wall_seconds=0.0,
                                           attempts=attempts, error=reason), data)
                    open_keys.discard(key)
                ledger.drop(identifier)
            self._submit(resubmit, engine, data, record, ledger)
            if open_keys:
                on_step(0)  # a heartbeat line, when one is due
                time.sleep(self.slurm.slurm_poll_seconds)


EXECUTOR = SlurmExecutor
