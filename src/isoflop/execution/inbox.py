"""Finished runs waiting to be stored: one JSON file per run in the study folder, written where the run trained.

A task on a cluster never writes the SQLite store (SQLite over a network filesystem is not safe, and the task
may outlive or predate the process that holds the store). It writes each finished run's full record to
``OUTPUT/incoming/KEY.json`` by an atomic rename; whoever holds the folder lock later (the study's driver,
``isoflop status``, the same study command run again) saves it to the store and only then replaces it with an
empty ``KEY.merged`` marker, so a run is stored once however often the merge is interrupted or repeated, and a
requeued task knows which of its runs are done.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from ..files import write_atomic
from ..results.records import RunRecord, StepMetric

INBOX_FOLDER = "incoming"
FORMAT = 1
RECORD = ".json"
MERGED = ".merged"


class Inbox:
    """The finished-run files of one study folder."""

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / INBOX_FOLDER

    def put(self, record: RunRecord) -> Path:
        """Write one finished run, complete or not at all."""
        self.path.mkdir(parents=True, exist_ok=True)
        payload = {"format": FORMAT, "record": dataclasses.asdict(record)}
        return write_atomic(self.path / f"{record.key}{RECORD}", json.dumps(payload, sort_keys=True))

    def finished(self, key: str) -> bool:
        """Whether run ``key`` has finished here: waiting in the inbox or already merged."""
        return (self.path / f"{key}{RECORD}").exists() or (self.path / f"{key}{MERGED}").exists()

    def forget(self, key: str) -> None:
        """Drop the mark of a run stored before (a failure being retried): it is to train again."""
        (self.path / f"{key}{MERGED}").unlink(missing_ok=True)

    def waiting(self) -> list[Path]:
        """The files not merged yet, oldest key first (their order does not matter: each is one run)."""
        return sorted(self.path.glob(f"*{RECORD}")) if self.path.is_dir() else []

    @staticmethod
    def read(path: Path) -> RunRecord:
        payload = json.loads(path.read_text(encoding="utf-8"))
        if payload.get("format") != FORMAT:
            raise ValueError(f"{path} has format {payload.get('format')!r}, this isoflop reads {FORMAT}")
        values = payload["record"]
        values["metrics"] = tuple(StepMetric(**step) for step in values["metrics"])
        return RunRecord(**values)

    def merged(self, path: Path) -> None:
        """Mark a run stored: its file gives way to an empty marker (written first, so one of them always exists)."""
        path.with_suffix(MERGED).touch()
        path.unlink(missing_ok=True)

    def merge_into(self, store) -> list[RunRecord]:
        """Save every waiting run the store does not hold completed (a retried run replaces its failure); the runs
        saved. The caller holds the folder lock."""
        saved = []
        completed = store.completed_keys()
        for path in self.waiting():
            record = self.read(path)
            if record.key not in completed:
                store.save(record)
                saved.append(record)
            self.merged(path)
        return saved
