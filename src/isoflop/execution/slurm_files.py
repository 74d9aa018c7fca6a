"""What the slurm executor keeps in a study folder (``OUTPUT/slurm/``), shared by the driver and its tasks: the
ledger of submitted packs, one file per pack for its task, each pack's count of starts, the tasks' logs."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path

from ..data.prepare import PreparedData
from ..engines.base import Pack, RunResult
from ..files import write_atomic
from ..keys import stable_key
from ..results.records import RunRecord

SLURM_FOLDER = "slurm"
LEDGER = "jobs.json"
LOGS = "logs"
PACKS = "packs"
SIGNAL = "USR2"


@dataclasses.dataclass(frozen=True)
class PackFile:
    """What one task reads: the round's setup file (engine, data), its pack, how to record its runs, its bound."""

    setup: str
    pack: Pack
    record: Callable[[RunResult, PreparedData], RunRecord]
    max_attempts: int


def pack_id(pack: Pack) -> str:
    return stable_key({"runs": [run.key for run in pack.runs]})


def starts_path(folder: Path, pack: str) -> Path:
    return folder / SLURM_FOLDER / PACKS / f"{pack}.starts"


def starts(folder: Path, pack: str) -> int:
    """How many times a task began training this pack."""
    path = starts_path(folder, pack)
    return int(path.read_text()) if path.exists() else 0


def log_path(folder: Path, job: str) -> Path:
    """A task's stderr, as submitit names it for an array task (``ARRAY_TASK_0_log.err``)."""
    return folder / SLURM_FOLDER / LOGS / f"{job}_0_log.err"


def remove_task_inputs(folder: Path) -> None:
    """The files tasks read (the rounds' engine and data, each pack's file and count of starts), once every run they
    train is stored; the ledger and the tasks' logs stay for ``isoflop status`` and for reading."""
    root = Path(folder) / SLURM_FOLDER
    shutil.rmtree(root / PACKS, ignore_errors=True)
    for setup in root.glob("setup-*.pkl"):
        setup.unlink(missing_ok=True)


class Ledger:
    """Which runs each submitted pack trains, its task's job id and how often its runs were submitted
    (``jobs.json``); every run is in one entry at most, the one of its latest submission."""

    def __init__(self, folder: Path):
        self.path = folder / SLURM_FOLDER / LEDGER
        self.packs: dict[str, dict] = json.loads(self.path.read_text())["packs"] if self.path.exists() else {}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, json.dumps({"format": 1, "packs": self.packs}, indent=1, sort_keys=True))

    def entry_of(self, key: str) -> str | None:
        return next((identifier for identifier, entry in self.packs.items() if key in entry["runs"]), None)

    def job_of(self, key: str) -> str | None:
        identifier = self.entry_of(key)
        return None if identifier is None else self.packs[identifier]["job"]

    def submitted(self, identifier: str, job: str, runs: dict[str, str]) -> None:
        """Record a pack's new task; its runs leave the entries of earlier submissions, whose count it carries on."""
        before = 0
        for other in [self.entry_of(key) for key in runs]:
            if other is not None and other in self.packs:
                before = max(before, self.packs[other]["submissions"])
                for key in runs:
                    self.packs[other]["runs"].pop(key, None)
                if not self.packs[other]["runs"]:
                    del self.packs[other]
        self.packs[identifier] = {"job": job, "runs": runs, "submissions": before + 1}

    def drop(self, identifier: str) -> None:
        self.packs.pop(identifier, None)
        self.save()
