"""A run's curve while it trains: one JSON line per measurement in ``FOLDER/KEY.jsonl``, appended by the engine
wherever it runs (this process, a worker, a Ray task, a SLURM node on the shared file system) and read by the
study's main process, which passes each new point to the experiment trackers (``isoflop.trackers``).

A line is ``{"step": S, "train/loss": …, "train/learning_rate": …}`` or ``{"step": S, "validation/loss": …}`` (step
0: before training). A run resumed from a checkpoint appends its steps again from there; readers keep the first
value of a step (a resumed run computes the same numbers).
"""

from __future__ import annotations

import json
from pathlib import Path

TRAIN_LOSS, LEARNING_RATE, VALIDATION_LOSS = "train/loss", "train/learning_rate", "validation/loss"


class LiveCurve:
    """Where one run appends its measurements (nothing when ``folder`` is None: no tracker follows the study)."""

    def __init__(self, folder: Path | None, key: str):
        self.path = None if folder is None else Path(folder) / f"{key}.jsonl"

    def train(self, step: int, loss: float, learning_rate: float) -> None:
        self._line({"step": step, TRAIN_LOSS: loss, LEARNING_RATE: learning_rate})

    def validation(self, step: int, loss: float) -> None:
        self._line({"step": step, VALIDATION_LOSS: loss})

    def _line(self, values: dict) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as file:  # one write per line: a reader sees whole lines or none
            file.write(json.dumps(values) + "\n")


class LiveReader:
    """The lines appended to a folder's curves since the last look, run by run."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.offsets: dict[str, int] = {}

    def new_points(self) -> dict[str, list[dict]]:
        """Each run's whole lines written since the last call (a line still being written waits for the next)."""
        found: dict[str, list[dict]] = {}
        if not self.folder.is_dir():
            return found
        for path in sorted(self.folder.glob("*.jsonl")):
            key = path.stem
            with path.open("rb") as file:
                file.seek(self.offsets.get(key, 0))
                text = file.read()
            whole = text[: text.rfind(b"\n") + 1]
            if whole:
                self.offsets[key] = self.offsets.get(key, 0) + len(whole)
                found[key] = [json.loads(line) for line in whole.decode("utf-8").splitlines()]
        return found

    def forget(self, key: str) -> None:
        """A stored run's file is done with: removed, and its offset dropped."""
        (self.folder / f"{key}.jsonl").unlink(missing_ok=True)
        self.offsets.pop(key, None)
