"""Where every run of a study folder stands: stored, finished but not stored yet, queued in SLURM, or lost.

Reading the status also stores what has finished (``execution.inbox``), unless another isoflop process holds
the folder (a study's driver merges as runs finish); then it only reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..lock import FolderBusy, FolderLock
from ..results.store import DATABASE_NAME, Store, read_records
from . import slurm_queue
from .inbox import Inbox
from .slurm_files import Ledger, log_path

STORED, FINISHED, FAILED = "stored", "finished, not stored yet", "failed"


@dataclass(frozen=True)
class RunStatus:
    """One run: its label, where it stands, its SLURM task (if any) and what to know about it."""

    label: str
    state: str
    job: str = ""
    detail: str = ""


@dataclass(frozen=True)
class FolderStatus:
    runs: list[RunStatus]
    merged: int  # runs this look stored
    holder: bool  # whether another process held the folder (nothing was merged)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for run in self.runs:
            counts[run.state] = counts.get(run.state, 0) + 1
        return counts


def folder_status(folder: str | Path) -> FolderStatus:
    """Every run the folder stores or has submitted, merging finished runs when the folder is free."""
    folder = Path(folder)
    ledger = Ledger(folder)
    if not (folder / DATABASE_NAME).exists() and not ledger.packs:
        raise UsageError(f"{str(folder)!r} holds no isoflop study (no {DATABASE_NAME}, nothing submitted); give the "
                         "--output folder of a study")
    # The queue first: a run that finishes after this look merged the folder was still queued when it began.
    before = {record.key for record in read_records(folder) if record.completed}
    unsettled = any(key not in before for entry in ledger.packs.values() for key in entry["runs"])
    queue = slurm_queue.queued() if unsettled else {}
    merged, holder = 0, False
    try:
        with FolderLock(folder), Store(folder) as store:
            merged = len(Inbox(folder).merge_into(store))
            records = store.records()
    except FolderBusy:
        holder, records = True, read_records(folder)
    waiting = {path.stem for path in Inbox(folder).waiting()}
    later = ("the process holding the folder stores it" if holder else
             "finished while this look ran; the next look stores it")
    runs, seen = [], set()
    for record in records:
        seen.add(record.key)
        job = ledger.job_of(record.key) or ""
        if record.completed or job not in queue:
            runs.append(RunStatus(record.label, STORED if record.completed else FAILED, job, record.error or ""))
            continue
        runs.append(RunStatus(record.label, queue[job].lower(), job, "retrying a failed run"))
    for entry in ledger.packs.values():
        for key, label in entry["runs"].items():
            if key in seen:
                continue
            job = entry["job"]
            if key in waiting:
                runs.append(RunStatus(label, FINISHED, job, later))
            elif job in queue:
                runs.append(RunStatus(label, queue[job].lower(), job))
            else:
                runs.append(RunStatus(label, FAILED, job, f"its task ended without it: {slurm_queue.last_line(log_path(folder, job))}; "
                                      "the study command submits it again"))
    runs.sort(key=_submission_order)
    return FolderStatus(runs, merged, holder)


def _submission_order(run: RunStatus) -> tuple[int, int]:
    """By job array and task (the order runs were submitted in: the plan's, longest first); runs of no job first."""
    array, _, task = run.job.partition("_")
    return (int(array), int(task or 0)) if array.isdigit() else (-1, 0)
