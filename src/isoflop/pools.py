"""Worker process pools that stop at once when their parent is interrupted.

Workers leave interruption to their parent: they ignore Ctrl-C (which reaches the whole
process group) and die quietly on SIGTERM, which the parent sends them when it is
interrupted itself, instead of waiting for them to finish their share of the work.
"""

from __future__ import annotations

import signal
from concurrent.futures import ProcessPoolExecutor


def quiet_worker() -> None:
    """Call first in every worker (a pool's ``initializer``); each worker has one core's work, so one BLAS thread."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    one_blas_thread()


def one_blas_thread():
    """Limit BLAS to one thread (for the ``with`` block when used as a context manager). The fits' L-BFGS-B runs
    small vector operations that only lose to BLAS thread hand-offs: 5× slower on two busy cores, measured."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def stop_now(pool: ProcessPoolExecutor) -> None:
    """Terminate the pool's workers and drop what they had not started."""
    for process in list((pool._processes or {}).values()):
        process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
