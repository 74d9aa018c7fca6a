"""Worker processes: by default one single-thread worker per core, each training whole packs.

On a small CPU two single-thread processes beat one process with two OpenMP threads
(the GEMMs of a small model are too small to split well). Each worker is a fresh
interpreter (``execution.worker``) that receives the engine and the prepared data once, at
start; packs go out one at a time, each run's result comes back as soon as it is final, and
progress comes back as steps. This process alone writes the store.

Faults, as the Ray executor handles them: a worker that dies mid-pack (killed, out of memory)
is replaced and its pack started again, up to ``max_attempts`` times in all, after which the
pack's runs are stored as failed with the reason; its runs record how many attempts they took,
and an engine that checkpoints resumes them where the last checkpoint left them. A worker
*killed by a signal* before it is ready (out of memory while importing torch, say) is a fault like one
killed mid-pack: another is started, up to ``max_attempts`` such deaths in a row; a worker that *exits*
with an error before it is ready (a broken environment) stops the study at once with its own last error
line. An
error inside the engine stops the study with one line naming the runs. Workers end with
their parent however it ends (see ``execution.worker``); Ctrl-C or SIGTERM stops them at once.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from multiprocessing.connection import Connection, wait
from pathlib import Path

from ..data.prepare import PreparedData
from ..engines.base import Engine, Pack, RunResult, StepCallback
from ..errors import UsageError

POLL_SECONDS = 0.2
STOP_SECONDS = 5.0
WORKER_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 31)}


def worker_command(parent: int, fd: int) -> list[str]:
    """The command line of one worker process."""
    return [sys.executable, "-m", "isoflop.execution.worker", str(parent), str(fd)]


class ProcessExecutor:
    """Packs in fresh worker interpreters, one per core; a pack whose worker dies restarts from its checkpoint."""

    name = "processes"

    def __init__(self, workers: int | None = None, max_attempts: int = 3):
        self.workers = workers or os.cpu_count() or 1
        self.max_attempts = max_attempts
        self.killed_starting = 0  # workers killed by a signal before ready, in a row

    def run(self, engine: Engine, packs: list[Pack], data: PreparedData, on_step: StepCallback) -> Iterator[RunResult]:
        if not packs:
            return
        setup = pickle.dumps((engine, data), protocol=pickle.HIGHEST_PROTOCOL)
        state = _Packs(packs)
        workers: list[_Worker] = []
        try:
            while state.open():
                while len(workers) < min(self.workers, state.unfinished()):
                    workers.append(_Worker.start(setup))
                for worker in workers:
                    if worker.ready and worker.pack is None and state.waiting:
                        worker.assign(state.next())
                for worker in wait_for(workers):
                    message = worker.receive()
                    if message is None:
                        workers.remove(worker)
                        yield from self._lost(worker, state, engine.name, on_step)
                        continue
                    kind, *payload = message
                    if kind == "ready":
                        worker.ready = True
                        self.killed_starting = 0
                    elif kind == "steps":
                        state.reported[payload[0]] += payload[1]
                        on_step(payload[1])
                    elif kind == "result":
                        index, result = payload
                        state.arrived[index].add(result.key)
                        yield dataclasses.replace(result, attempts=state.attempts[index])
                    elif kind == "done":
                        state.finish(payload[0])
                        worker.pack = None
                    elif kind == "error":
                        index, error = payload
                        raise UsageError(f"{_labels(state.packs[index])} failed in a worker process: {error}")
        finally:
            for worker in workers:
                worker.stop()

    def _lost(self, worker: _Worker, state: _Packs, engine: str, on_step: StepCallback) -> Iterator[RunResult]:
        """A worker died: at start-up the study stops; mid-pack the pack goes back to the queue, or fails for good."""
        cause = worker.death()
        if not worker.ready:
            killed = worker.process.returncode is not None and worker.process.returncode < 0
            self.killed_starting += killed
            if killed and self.killed_starting < self.max_attempts:
                return  # another worker is started in its place
            if killed:
                raise UsageError(f"{self.killed_starting} worker processes in a row were killed while starting (last: "
                                 f"{cause}); if memory is short, lower --workers")
            raise UsageError(f"a worker process could not start ({cause}); run the study with --executor inprocess "
                             "to see the error in this process")
        index = worker.pack
        if index is None:
            return
        if not state.remaining(index):  # every result arrived before it died
            state.finish(index)
            return
        on_step(-state.reported[index])  # its steps will be trained, or restored, again
        state.reported[index] = 0
        if state.attempts[index] < self.max_attempts:
            state.retry(index)
            return
        state.finish(index)
        for run in state.remaining(index):
            yield RunResult(key=run.key, engine=engine, status="failed", wall_seconds=0.0,
                            attempts=state.attempts[index],
                            error=f"its worker process died {state.attempts[index]} times (last: {cause})")


def wait_for(workers: list[_Worker]) -> list[_Worker]:
    """The workers with a message (or a death) to read, after at most ``POLL_SECONDS``."""
    by_connection = {worker.connection: worker for worker in workers}
    return [by_connection[connection] for connection in wait(list(by_connection), timeout=POLL_SECONDS)]


class _Packs:
    """Which packs wait, how often each was started, which results arrived."""

    def __init__(self, packs: list[Pack]):
        self.packs = packs
        self.waiting = list(range(len(packs)))
        self.running: set[int] = set()
        self.attempts = [0] * len(packs)
        self.reported = [0] * len(packs)
        self.arrived: list[set[str]] = [set() for _ in packs]

    def open(self) -> bool:
        return bool(self.waiting or self.running)

    def unfinished(self) -> int:
        return len(self.waiting) + len(self.running)

    def next(self) -> tuple[int, Pack]:
        index = self.waiting.pop(0)
        self.running.add(index)
        self.attempts[index] += 1
        pack = self.packs[index]
        # A pack restarted after some of its results arrived trains only the rest.
        return index, dataclasses.replace(pack, runs=tuple(self.remaining(index)))

    def remaining(self, index: int) -> list:
        return [run for run in self.packs[index].runs if run.key not in self.arrived[index]]

    def retry(self, index: int) -> None:
        self.running.discard(index)
        self.waiting.insert(0, index)

    def finish(self, index: int) -> None:
        self.running.discard(index)


@dataclasses.dataclass
class _Worker:
    process: subprocess.Popen
    connection: Connection
    stderr: object  # an anonymous temporary file: the worker's stderr, read when it dies
    ready: bool = False
    pack: int | None = None

    @classmethod
    def start(cls, setup: bytes) -> _Worker:
        ours, theirs = socket.socketpair()
        with tempfile.TemporaryFile() as stdin:
            stdin.write(setup)
            stdin.seek(0)
            stderr = tempfile.TemporaryFile()
            process = subprocess.Popen(
                worker_command(os.getpid(), theirs.fileno()), stdin=stdin, stdout=subprocess.DEVNULL, stderr=stderr,
                pass_fds=(theirs.fileno(),), env=_worker_environment(),
            )
        theirs.close()
        return cls(process, Connection(ours.detach()), stderr)

    def assign(self, job: tuple[int, Pack]) -> None:
        self.pack = job[0]
        try:
            self.connection.send(("pack", *job))
        except OSError:
            pass  # it died: its connection reads as closed, and the death is handled there

    def receive(self):
        """The next message, or None when the worker has died."""
        try:
            return self.connection.recv()
        except (EOFError, OSError):
            return None

    def death(self) -> str:
        """How the worker ended, with the last line it wrote to stderr."""
        code = self.process.wait()
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        self.stderr.seek(0)
        lines = [line.strip() for line in self.stderr.read().decode(errors="replace").splitlines() if line.strip()]
        self.stderr.close()
        self.connection.close()
        return f"{how}: {lines[-1]}" if lines else how

    def stop(self) -> None:
        """End the worker now (it holds nothing that must be saved: the store is ours)."""
        self.connection.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=STOP_SECONDS)
        if not self.stderr.closed:
            self.stderr.close()


def _worker_environment() -> dict[str, str]:
    """The parent's environment, isoflop importable from wherever this process imported it, and glibc malloc
    thresholds large enough that the buffers a step frees stay mapped for the next step instead of being
    page-faulted in again (glibc reads them at process start)."""
    env = {name: os.environ.get(name, value) for name, value in WORKER_MALLOC.items()} | dict(os.environ)
    source = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))
    return env


def _labels(pack: Pack) -> str:
    return "run " + ", ".join(run.label for run in pack.runs)


EXECUTOR = ProcessExecutor
