"""A wsd trunk's states on disk: the weights, optimizer, RNG and metrics at each branch point.

The runs of one trunk (``RunSpec.trunk``) share every step before their cooldowns, so an engine that
branches trains the trunk once, saves its state where a run's cooldown starts, and cools the run
down from a copy. Saved states live in the study folder (``OUTPUT/trunks/TRUNK``): a killed study
resumes from the last branch point it reached, and a budget added in a later round continues the trunk
from the furthest state before its branch. When the study ends, each trunk keeps only its furthest state.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..files import atomic_target

TRUNKS_FOLDER = "trunks"


class TrunkStates:
    """The saved states of one trunk, by step (``None`` folder: none are kept). Each holds the fingerprint of the data
    the trunk read up to it (``fingerprint(step)``): a state of other data (after --force-new-data) is removed unread."""

    def __init__(self, folder: Path | None, trunk: str, fingerprint: Callable[[int], str]):
        self.folder = None if folder is None else folder / trunk
        self.fingerprint = fingerprint

    def steps(self) -> list[int]:
        if self.folder is None or not self.folder.is_dir():
            return []
        return sorted(int(path.stem) for path in self.folder.glob("*.pt") if path.stem.isdigit())  # not a partial write

    def latest(self, at_most: int, device) -> dict | None:
        """The saved state of the furthest step at or before ``at_most``, or None."""
        import torch

        for step in reversed([step for step in self.steps() if step <= at_most]):
            path = self.folder / f"{step}.pt"
            state = torch.load(path, map_location=device, weights_only=True)
            if state.get("data") == self.fingerprint(step):
                return state
            path.unlink()
        return None

    def save(self, step: int, state: dict) -> None:
        import torch

        if self.folder is None or step in self.steps():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_target(self.folder / f"{step}.pt") as partial:
            torch.save(state | {"data": self.fingerprint(step)}, partial)

    def keep_furthest(self) -> None:
        """Remove every saved state but the furthest one (what a budget added later can still branch from)."""
        for step in self.steps()[:-1]:
            (self.folder / f"{step}.pt").unlink(missing_ok=True)


def keep_furthest_states(folder: Path) -> None:
    """At the end of a study: every trunk under ``folder`` keeps only its furthest state."""
    for trunk in sorted(folder.iterdir()) if folder.is_dir() else ():
        TrunkStates(folder, trunk.name, lambda step: "").keep_furthest()
