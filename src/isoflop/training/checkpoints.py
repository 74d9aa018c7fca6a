"""A pack's training state on disk, written every few seconds, so a killed pack resumes where it was.

What the state holds is the engine's business (weights, optimizer, RNG, the metrics so far):
resuming from it must give the numbers an uninterrupted run would have given. The file is
named by the pack's run keys, so only the same runs ever read it; the study runner removes the
folder when a study ends, and an engine removes a pack's file once its results are handed on.

A batch system warns a job before it ends it (a time limit, a preemption): ``request_stop`` makes the next
``maybe_save`` of every pack in training write its state at once and raise ``Stopped``, so the job can requeue
itself and resume from exactly there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..files import atomic_target
from ..keys import stable_key

_STOP = threading.Event()


class Stopped(Exception):
    """Training stopped on request, its state written: the same pack resumes from it."""


def request_stop() -> None:
    """Ask every pack in training to write its state at its next step and stop (``Stopped``)."""
    _STOP.set()


class PackCheckpoint:
    """A pack's training state, saved every so many seconds (complete or absent) and removed once its results are
    stored."""

    def __init__(self, folder: Path | None, keys: list[str], seconds: float):
        self.path = None if folder is None else folder / f"{stable_key({'runs': list(keys)})}.pt"
        self.seconds = seconds
        self.last = time.perf_counter()

    def load(self, device) -> dict | None:
        """The saved state, or None when there is none."""
        import torch

        if self.path is None or not self.path.exists():
            return None
        return torch.load(self.path, map_location=device, weights_only=True)

    def maybe_save(self, state: Callable[[], dict]) -> None:
        """Write ``state()`` when ``seconds`` have passed since the last write (or the start), or at once and raise
        ``Stopped`` when a stop was requested."""
        import torch

        stopping = _STOP.is_set()
        if self.path is None or (not stopping and time.perf_counter() - self.last < self.seconds):
            if stopping:
                raise Stopped("stopped on request before any state could be written (no checkpoint folder)")
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_target(self.path) as partial:
            torch.save(state(), partial)
        self.last = time.perf_counter()
        if stopping:
            raise Stopped(f"stopped on request; its state is saved in {self.path}")

    def remove(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
