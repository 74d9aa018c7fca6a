"""The order in which a run sees its training samples: a function of the run's seed alone.

Every engine feeds samples in this order, so two engines can be compared step by step.

* ``epochs`` (every run but a wsd isoFLOP run): each epoch is a fresh permutation of the
  first D samples; the last epoch is cut where the budget ends (D need not divide the passes).
* ``stream`` (the runs of a wsd isoFLOP study, which branch from one trunk): one stream per seed,
  whatever the run's length, and a run reads its first ``passes`` samples, so a shorter run's
  order is a prefix of a longer one's. The stream reads the training samples in windows that
  double, ``[0, W)``, ``[W, 2W)``, ``[2W, 4W)``, ..., each shuffled by the seed: a run of P passes
  reads P distinct samples, all among the first max(2P, W) (its ``span``). With a ``pool`` (the study's
  unique-data cap) the windows stop at the pool, and later epochs are permutations of it.
"""

from __future__ import annotations

import numpy as np

ORDERS = ("epochs", "stream")
# The stream's first window, in samples.
STREAM_WINDOW = 1024


def sample_order(unique_samples: int, passes: int, seed: int) -> list[int]:
    """Indices into the first ``unique_samples`` training chunks, one per pass."""
    rng = np.random.default_rng(seed)
    order: list[int] = []
    while len(order) < passes:
        order.extend(int(i) for i in rng.permutation(unique_samples))
    return order[:passes]


def stream_order(passes: int, seed: int, pool: int | None = None) -> list[int]:
    """The first ``passes`` samples of the seed's stream (doubling shuffled windows, cut at ``pool``)."""
    rng = np.random.default_rng(seed)
    order: list[int] = []
    for start, end in _windows(passes, pool):
        order.extend(start + int(i) for i in rng.permutation(end - start))
    while len(order) < passes:  # past the pool: epochs over it
        order.extend(int(i) for i in rng.permutation(pool))
    return order[:passes]


def stream_span(passes: int, pool: int | None = None) -> int:
    """How many of the first training samples a stream of ``passes`` samples draws from."""
    return max(end for _, end in _windows(passes, pool))


def stream_unique(passes: int, pool: int | None = None) -> int:
    """Distinct samples among a stream's first ``passes``."""
    return passes if pool is None else min(passes, pool)


def _windows(passes: int, pool: int | None) -> list[tuple[int, int]]:
    """The windows the first ``passes`` samples of the stream come from."""
    windows, start, end = [], 0, STREAM_WINDOW
    while start < passes and (pool is None or start < pool):
        end = end if pool is None else min(end, pool)
        windows.append((start, end))
        start, end = end, 2 * end
    return windows
