"""The executor interface: packs in, run results out, progress reported back as steps.

The runner is the only writer of results: an executor hands each result back as soon
as it is final, wherever the pack ran. Executors are named here and imported on use.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator
from typing import Protocol

from ..data.prepare import PreparedData
from ..engines.base import Engine, Pack, RunResult, StepCallback
from ..results.records import RunRecord

EXECUTORS = {"inprocess": "isoflop.execution.inprocess", "processes": "isoflop.execution.processes",
             "ray": "isoflop.execution.ray_cluster", "slurm": "isoflop.execution.slurm"}


class Executor(Protocol):
    """Where packs run: trains every pack with an engine and yields each run's result as soon as it is final."""

    name: str

    def run(self, engine: Engine, packs: list[Pack], data: PreparedData, on_step: StepCallback) -> Iterator[RunResult]:
        """Train every pack with ``engine``; yield each run's result as soon as it is final."""
        ...


def records(executor: Executor, engine: Engine, packs: list[Pack], data: PreparedData, on_step: StepCallback,
            record: Callable[[RunResult, PreparedData], RunRecord]) -> Iterator[RunRecord]:
    """Each run's record as soon as it is final: built here from the executor's results, or, from an executor
    whose tasks record their own runs where they train (slurm: ``records_remotely``), read back from them. The
    caller stores each record before asking for the next."""
    if getattr(executor, "records_remotely", False):
        yield from executor.records(engine, packs, data, on_step, record)
        return
    for result in executor.run(engine, packs, data, on_step):
        yield record(result, data)


def resolve(config, engine: Engine, packs: int):
    """``auto`` made concrete: worker processes pay off for the single-threaded fast engine when several packs can
    run on several cores; everything else trains in this process."""
    if config.executor != "auto":
        return config
    parallel = engine.name == "fast" and packs > 1 and (config.workers or os.cpu_count() or 1) > 1
    return config.model_copy(update={"executor": "processes" if parallel else "inprocess"})


def load_executor(config, study=None) -> Executor:
    """The executor a concrete ``ExecutionConfig`` names (slurm also reads the ``study``'s SLURM settings, output
    folder and kind)."""
    executor = importlib.import_module(EXECUTORS[config.executor]).EXECUTOR
    if config.executor == "processes":
        return executor(config.workers, config.max_attempts)
    if config.executor == "slurm":
        return executor(config, study.slurm, study.output, study.kind)
    return executor(config) if config.executor == "ray" else executor()
