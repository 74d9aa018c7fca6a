"""Worker processes: by default one single-thread worker per core, each training whole packs.

On a small CPU two single-thread processes beat one process with two OpenMP threads
(the GEMMs of a small model are too small to split well). Each worker receives the
engine and the prepared data once, at start; packs go out, each pack's results come back
as soon as they are final, and progress comes back as steps. This process alone writes
the store. Ctrl-C or SIGTERM stops the workers at once.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager

from ..data.prepare import PreparedData
from ..engines.base import Engine, Pack, RunResult, StepCallback
from ..pools import quiet_worker, stop_now

POLL_SECONDS = 0.2
WORKER_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 31)}
_worker: dict = {}


class ProcessExecutor:
    name = "processes"

    def __init__(self, workers: int | None = None):
        self.workers = workers or os.cpu_count() or 1

    def run(self, engine: Engine, packs: list[Pack], data: PreparedData, on_step: StepCallback) -> Iterator[RunResult]:
        if not packs:
            return
        # spawn, not fork: a forked copy of a process that already ran torch's thread pools can hang.
        context = multiprocessing.get_context("spawn")
        steps = context.Queue()
        pool = ProcessPoolExecutor(
            max_workers=min(self.workers, len(packs)), mp_context=context, initializer=_start_worker,
            initargs=(engine, data, steps),
        )
        try:
            with _worker_environment():
                pending = {pool.submit(_train_pack, pack) for pack in packs}
            while pending:
                finished, pending = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                _drain(steps, on_step)
                for future in finished:
                    yield from future.result()
            _drain(steps, on_step)
        except BaseException:
            stop_now(pool)
            raise
        pool.shutdown()


@contextmanager
def _worker_environment():
    """glibc reads its malloc settings at process start: give the workers large thresholds, so the
    buffers a step frees stay mapped for the next step instead of being page-faulted in again."""
    saved = {name: os.environ.get(name) for name in WORKER_MALLOC}
    os.environ.update({name: os.environ.get(name, value) for name, value in WORKER_MALLOC.items()})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _drain(steps, on_step: StepCallback) -> None:
    while True:
        try:
            on_step(steps.get_nowait())
        except queue.Empty:
            return


def _start_worker(engine: Engine, data: PreparedData, steps) -> None:
    import torch

    quiet_worker()
    torch.set_num_threads(1)
    _worker.update(engine=engine, data=data, steps=steps)


def _train_pack(pack: Pack) -> list[RunResult]:
    return list(_worker["engine"].train(pack, _worker["data"], _worker["steps"].put))


EXECUTOR = ProcessExecutor
