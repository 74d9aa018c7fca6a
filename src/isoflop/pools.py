"""Worker processes that stop at once when their parent is interrupted, and never outlive it.

Workers leave interruption to their parent: they ignore Ctrl-C (which reaches the whole
process group) and die quietly on SIGTERM, which the parent sends them when it is
interrupted itself, instead of waiting for them to finish their share of the work. A parent
that is killed outright (SIGKILL, the OOM killer) cannot tell them: a watchdog thread in each
worker ends it within ``WATCHDOG_SECONDS`` of its parent's death.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import process as futures_process

WATCHDOG_SECONDS = 0.2


def quiet_worker(parent: int) -> None:
    """Call first in every worker (a pool's ``initializer``, with ``initargs=(os.getpid(),)``); each worker has one
    core's work, so one BLAS thread."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent(parent)
    one_blas_thread()


def die_with_parent(parent: int) -> None:
    """End this process as soon as ``parent`` is no longer its parent (it died and this one was re-parented).

    ``parent`` is passed in, not read here: a parent that died before this call would otherwise be missed."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCHDOG_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="isoflop-parent-watchdog", daemon=True).start()


def one_blas_thread():
    """Limit BLAS to one thread (for the ``with`` block when used as a context manager). The fits' L-BFGS-B runs
    small vector operations that only lose to BLAS thread hand-offs: 5× slower on two busy cores, measured."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def stop_now(pool: ProcessPoolExecutor) -> None:
    """Terminate the pool's workers and drop what they had not started, without waiting for them.

    The pool is also taken off ``concurrent.futures``' interpreter-exit hook: that hook wakes every pool's manager
    thread through a pipe, and a pool stopped mid-start (Ctrl-C or SIGTERM) can leave that pipe closed under it,
    which ends the command in an ``OSError`` traceback after its one-line message."""
    manager = pool._executor_manager_thread
    for process in list((pool._processes or {}).values()):
        process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    if manager is not None:
        futures_process._threads_wakeups.pop(manager, None)
