"""The in-process executor: every pack in this process, one after another."""

from __future__ import annotations

from collections.abc import Iterator

from ..data.prepare import PreparedData
from ..engines.base import Engine, Pack, RunResult, StepCallback


class InProcessExecutor:
    """Every pack in this process, one after another."""

    name = "inprocess"

    def run(self, engine: Engine, packs: list[Pack], data: PreparedData, on_step: StepCallback) -> Iterator[RunResult]:
        for pack in packs:
            yield from engine.train(pack, data, on_step)


EXECUTOR = InProcessExecutor
