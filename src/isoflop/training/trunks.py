"""A wsd trunk's states on disk: the weights, optimizer, RNG and metrics at each branch point.

The runs of one trunk (``RunSpec.trunk``) share every step before their cooldowns, so an engine that
branches trains the trunk once, saves its state where a run's cooldown starts, and cools the run
down from a copy. Saved states live in the study folder (``OUTPUT/trunks/TRUNK``): a killed study
resumes from the last branch point it reached, and a budget added in a later round continues the trunk
from the furthest state before its branch (``trunk_position``: in memory, a saved state, or the start). When the
study ends, each trunk keeps only its furthest state.
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


class TrunkMetrics:
    """What a trunk measured: training loss and rate per step, validation losses at the steps its runs evaluate it."""

    def __init__(self):
        self.train_loss: list[float] = []
        self.learning_rate: list[float] = []
        self.val: dict[int, float] = {}
        self.initial: float | None = None

    def train(self, step: int, loss: float, lr: float) -> None:
        if step == len(self.train_loss) + 1:  # a step gone through again after going back gives the same numbers
            self.train_loss.append(loss)
            self.learning_rate.append(lr)

    def validation(self, step: int, loss: float) -> None:
        self.val[step] = loss

    def as_state(self) -> dict:
        return {"train_loss": list(self.train_loss), "learning_rate": list(self.learning_rate),
                "val": {str(step): value for step, value in self.val.items()}, "initial": self.initial}

    def merge(self, state: dict) -> None:
        if len(state["train_loss"]) > len(self.train_loss):
            self.train_loss, self.learning_rate = list(state["train_loss"]), list(state["learning_rate"])
        self.val |= {int(step): value for step, value in state["val"].items()}
        self.initial = state["initial"] if self.initial is None else self.initial


def trunk_position(states: TrunkStates, branch: int, run, position: int | None, loop, trunk: TrunkMetrics,
                   device) -> int:
    """Put the trunk (``loop``: ``load(state)``, ``restart(run)``) at the furthest step from which ``run`` can branch at
    ``branch`` having its evaluations before it (in memory, a saved state, or the start); that step."""
    saved_steps = [step for step in states.steps() if step <= branch]
    evaluated = all(step in trunk.val for step in run.eval_steps if step <= branch)
    if position is not None and position <= branch and evaluated and (not saved_steps or saved_steps[-1] <= position):
        return position  # no saved state lies further than the trunk in memory: nothing to read
    furthest = states.latest(branch, device)
    if furthest is not None:
        trunk.merge(furthest["metrics"])  # measured by the same trunk: valid whichever state it goes on from
    missing = [step for step in run.eval_steps if step <= branch and step not in trunk.val]
    limit = min(missing + [branch])
    state = states.latest(limit, device) if limit < branch or furthest is None else furthest
    saved = -1 if state is None else int(state["step"])
    if position is not None and saved <= position <= limit:
        return position
    if state is not None:
        loop.load(state)
        trunk.merge(state["metrics"])
        return saved
    if position is None:
        return 0
    loop.restart(run)
    return 0
