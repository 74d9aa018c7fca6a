"""The engines isoflop knows, fastest first, and each one's own options.

This module is light (no torch): the CLI and the config read it to list engines and
their options. An engine's code is imported only when a study asks for it. Adding an
engine is one module (a class with ``name``, ``supports``, ``pack_limit`` and ``train``)
plus one entry here (with its options class, when it has options).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from pydantic import Field

from ..config.base import NOT_IDENTITY, Part


class NoOptions(Part):
    """An engine without options of its own."""


class BatchedOptions(Part):
    pack_size: int | None = Field(
        None, gt=0, description="runs trained together in one pack (default: what fits in half the free memory)",
        json_schema_extra=NOT_IDENTITY,
    )


@dataclass(frozen=True)
class EngineEntry:
    name: str
    module: str
    summary: str
    options: type[Part] = NoOptions

    def load(self):
        """The engine class (imports its module, and with it torch)."""
        module = importlib.import_module(self.module)
        return getattr(module, "ENGINE")


# Fastest first: ``auto`` takes the first engine whose ``supports`` accepts the study.
ENGINES: tuple[EngineEntry, ...] = (
    EngineEntry("fast", "isoflop.engines.fast", "one GPT-2 run at a time, the LM head and its loss in chunks outside autograd (CPU)"),
    EngineEntry("batched", "isoflop.engines.batched", "K GPT-2 runs in lock-step (stacked weights under vmap)", BatchedOptions),
    EngineEntry("reference", "isoflop.engines.reference", "the HF Trainer, one run at a time: the fidelity baseline"),
)
AUTO = "auto"


def engine_names() -> tuple[str, ...]:
    return tuple(entry.name for entry in ENGINES)


def entry(name: str) -> EngineEntry:
    for candidate in ENGINES:
        if candidate.name == name:
            return candidate
    raise KeyError(name)


def select_engine(config, runs, data):
    """The engine that will train ``runs``: the one asked for, or for ``auto`` the first that supports them.

    Refusals are UsageErrors raised before anything is written, with the engine's reason.
    """
    from ..errors import UsageError

    if config.engine != AUTO:
        engine = entry(config.engine).load()(config)
        reason = engine.supports(runs, data)
        if reason is not None:
            raise UsageError(f"the {config.engine} engine cannot train this study: {reason}; choose another --engine")
        return engine
    reasons = []
    for candidate in ENGINES:
        engine = candidate.load()(config)
        reason = engine.supports(runs, data)
        if reason is None:
            return engine
        reasons.append(f"{candidate.name}: {reason}")
    raise UsageError(f"no engine can train this study ({'; '.join(reasons)})")
