"""Packs as tasks on a Ray cluster: the same study, many machines, the driver the only writer.

Without an address a local Ray instance sized to this machine is started (and stopped at
the end); ``auto`` or ``ray://HOST:PORT`` joins an existing cluster. The prepared data
goes to the object store once; each pack is one task requesting the CPUs (and GPUs) it
needs. Results come back to this process, which writes each run as it arrives.

Faults: a task whose worker process or node dies is started again, up to
``max_attempts`` times in all, and its runs record how many attempts it took; a pack
whose results arrived is never started again. A run that fails on its own (NaN) is a
result, not a fault, and is never retried. An error inside a task stops the study with
one line naming the runs and the node. Progress comes back as steps through a small actor.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from collections.abc import Iterator

from ..data.prepare import PreparedData
from ..engines.base import Engine, Pack, RunResult, StepCallback
from ..errors import UsageError, first_line

POLL_SECONDS = 0.2
REPORT_SECONDS = 0.5
RAY_MISSING = "the ray executor needs Ray, which is not installed: pip install 'isoflop[ray]'"


def _import_ray():
    try:
        import ray
    except ImportError:
        raise UsageError(RAY_MISSING) from None
    return ray


class PackFailed(Exception):
    """An error inside a task, with the node it happened on."""


class RayExecutor:
    """Packs as tasks on a Ray cluster (local, or one given by address), results stored as they arrive."""

    name = "ray"

    def __init__(self, config):
        self.config = config

    def run(self, engine: Engine, packs: list[Pack], data: PreparedData, on_step: StepCallback) -> Iterator[RunResult]:
        if not packs:
            return
        ray = _import_ray()
        started_here = self._connect(ray)
        try:
            yield from self._run(ray, engine, packs, data, on_step)
        finally:
            if started_here:
                ray.shutdown()

    def _connect(self, ray) -> bool:
        """Join the configured cluster, or start a local one; True when this process started it."""
        if ray.is_initialized():
            return False
        address = self.config.ray_address
        options = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        try:
            if address is None:
                ray.init(address="local", num_cpus=os.cpu_count() or 1, **options)
            else:
                ray.init(address=address, **options)
        except (ConnectionError, ValueError, RuntimeError) as error:
            where = f"at {address!r}" if address else "on this machine"
            raise UsageError(f"cannot start or reach a Ray cluster {where} ({first_line(error)}); start one with "
                             "'ray start --head', or leave --ray-address out to run a local one") from None
        return True

    def _run(self, ray, engine, packs, data, on_step) -> Iterator[RunResult]:
        from ray.exceptions import NodeDiedError, ObjectLostError, RayTaskError, WorkerCrashedError

        lost_worker = (WorkerCrashedError, NodeDiedError, ObjectLostError)
        gpus = self.config.ray_gpus_per_pack
        if gpus is None:
            gpus = 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0
        task = ray.remote(_train_pack).options(
            num_cpus=self.config.ray_cpus_per_pack, num_gpus=gpus, max_retries=0, retry_exceptions=False
        )
        progress = ray.remote(num_cpus=0)(_Progress).remote()
        data_ref = ray.put(data)
        attempts = [0] * len(packs)
        reported = [0] * len(packs)
        waiting = list(range(len(packs)))
        running: dict = {}
        limit = self.config.workers or len(packs)
        try:
            while waiting or running:
                while waiting and len(running) < limit:
                    index = waiting.pop(0)
                    attempts[index] += 1
                    running[task.remote(engine, data_ref, packs[index], progress, index, attempts[index])] = index
                done, _ = ray.wait(list(running), num_returns=1, timeout=POLL_SECONDS)
                self._report(ray, progress, attempts, reported, on_step)
                for ref in done:
                    index = running.pop(ref)
                    try:
                        results = ray.get(ref)
                    except lost_worker as error:
                        if attempts[index] >= self.config.max_attempts:
                            raise UsageError(
                                f"{_labels(packs[index])}: the worker was lost {attempts[index]} times "
                                f"({first_line(error)}); check the cluster's nodes, or raise --ray-max-attempts"
                            ) from None
                        on_step(-reported[index])  # its steps will be trained again
                        reported[index] = 0
                        waiting.insert(0, index)
                        continue
                    except RayTaskError as error:
                        cause = getattr(error, "cause", None) or error
                        raise UsageError(f"{_labels(packs[index])} failed {first_line(cause)}") from None
                    self._report(ray, progress, attempts, reported, on_step)
                    for result in results:
                        yield dataclasses.replace(result, attempts=attempts[index])
        except BaseException:
            for ref in running:
                ray.cancel(ref, force=True)
            raise

    @staticmethod
    def _report(ray, progress, attempts, reported, on_step) -> None:
        """Steps trained since the last report, counting only each pack's current attempt."""
        for (index, attempt), steps in ray.get(progress.take.remote()).items():
            if attempt == attempts[index]:
                reported[index] += steps
                on_step(steps)


class _Progress:
    """Steps reported by the tasks, per (pack, attempt), until the driver takes them."""

    def __init__(self):
        self.steps: dict[tuple[int, int], int] = {}

    def add(self, index: int, attempt: int, steps: int) -> None:
        self.steps[index, attempt] = self.steps.get((index, attempt), 0) + steps

    def take(self) -> dict[tuple[int, int], int]:
        taken, self.steps = self.steps, {}
        return taken


def _train_pack(engine: Engine, data: PreparedData, pack: Pack, progress, index: int, attempt: int) -> list[RunResult]:
    """One pack in a Ray worker, with as many threads as CPUs the task holds."""
    import ray
    import torch

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    torch.set_num_threads(max(1, int(cpus)))
    pending, last = 0, time.monotonic()

    def on_step(steps: int) -> None:
        nonlocal pending, last
        pending += steps
        if time.monotonic() - last >= REPORT_SECONDS:
            progress.add.remote(index, attempt, pending)
            pending, last = 0, time.monotonic()

    try:
        results = list(engine.train(pack, data, on_step))
    except Exception as error:
        raise PackFailed(f"on node {socket.gethostname()} ({ray.util.get_node_ip_address()}): "
                         f"{type(error).__name__}: {first_line(error)}") from None
    if pending:
        ray.get(progress.add.remote(index, attempt, pending))
    return results


def _labels(pack: Pack) -> str:
    return "run " + ", ".join(run.label for run in pack.runs)


EXECUTOR = RayExecutor
