"""What a study kind supplies to the runner: a pure plan of runs, and a report."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..engines.base import RunSpec
from ..models.specs import ModelFacts

FactsOf = Callable[[str], ModelFacts]
"""A model spec's shape, parameter count and context (arithmetic for from-scratch sizes)."""


@dataclass(frozen=True)
class PlannedRun:
    """A run to train, with what its record will say about it beyond the engine's metrics."""

    spec: RunSpec
    grid: dict[str, Any]
    config: dict[str, Any]  # the full run config; ``spec.key`` is its stable key
    model_name: str
    facts: ModelFacts
    flop_convention: str
    flops_per_token: float
    budget_flops: float


@dataclass(frozen=True)
class Plan:
    """The runs a study trains next, and what it left out (for the report)."""

    runs: list[PlannedRun]
    notes: list[str] = field(default_factory=list)  # grid points left out, and why

    def train_samples(self) -> int:
        return max(run.spec.data_span for run in self.runs)

    def data_line(self, seq_len: int) -> str:
        """How much data the largest run reads, and whether it repeats: one line, said before anything trains."""
        largest = max(self.runs, key=lambda run: run.spec.passes)
        spec = largest.spec
        tokens, distinct = spec.passes * seq_len, spec.data_span * seq_len
        if spec.passes <= spec.data_span:
            return (f"data: the largest run ({spec.label}) reads {tokens:,} tokens, none twice: the training data must "
                    f"hold {self.train_samples() * seq_len:,} tokens (checked when it is prepared)")
        return (f"data: the largest run ({spec.label}) reads {tokens:,} tokens, {spec.passes / spec.data_span:.1f} epochs "
                f"over {distinct:,} distinct ones: it repeats data")


@dataclass(frozen=True)
class StudyKind:
    """What a study kind supplies to the one runner: its plan, its report, the models it trains."""

    kind: str
    # (config, vocab_size, facts_of, records) -> Plan: the runs to train given the study's stored records; the
    # runner trains them and plans again until the plan holds nothing new (a plan may grow with its results)
    plan: Callable[..., Plan]
    report: str  # "module:function" building the report Document; imported only when writing it
    data_advice: str  # what to do when the training data is too short for the plan
    models: Callable[[Any], list[str]]  # config -> the model specs the study may train (what engines must support)
    grows: Callable[[Any], bool] = lambda config: False  # config -> whether its plan grows with its results

    def build_report(self, records, config, notes: list[str], vocab_size: int):
        module, _, function = self.report.partition(":")
        return getattr(importlib.import_module(module), function)(records, config, notes, vocab_size)
