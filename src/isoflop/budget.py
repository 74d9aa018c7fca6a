"""Compute accounting: forward+backward passes <-> optimizer steps <-> tokens <-> FLOPs.

FLOPs per token follow one of the conventions of ``models.counts`` (``6N``, ``full``, ``matmul``),
recorded with every run.

A *pass* is one training sample going forward and backward once. The classic budget
is 100 passes of 64-token samples at batch size 1, i.e. 100 optimizer steps.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UsageError

@dataclass(frozen=True)
class Budget:
    """A training budget in passes of ``seq_len``-token samples, taken ``batch_size`` at a time."""

    passes: int
    seq_len: int
    batch_size: int = 1

    def __post_init__(self) -> None:
        if self.passes <= 0:
            raise UsageError(f"the budget must be a positive number of passes, got {self.passes}")
        if self.seq_len <= 0:
            raise UsageError(f"seq_len must be positive, got {self.seq_len}")
        if self.batch_size <= 0:
            raise UsageError(f"batch_size must be positive, got {self.batch_size}")
        if self.passes % self.batch_size:
            raise UsageError(
                f"a budget of {self.passes} passes is not a whole number of steps at batch size "
                f"{self.batch_size}; choose passes divisible by the batch size"
            )

    @property
    def steps(self) -> int:
        """Optimizer steps: one per batch."""
        return self.passes // self.batch_size

    @property
    def tokens(self) -> int:
        """Training tokens processed (each pass is one full sample)."""
        return self.passes * self.seq_len

    def epochs(self, unique_samples: int) -> float:
        """How many times each of ``unique_samples`` is seen; fractional when it does not divide."""
        if unique_samples <= 0:
            raise UsageError(f"the number of unique samples must be positive, got {unique_samples}")
        return self.steps * self.batch_size / unique_samples
