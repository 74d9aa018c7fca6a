"""The engines isoflop knows, fastest first, and each one's own options: declared in config, so the config (and
the CLI generated from it) lists engines and their options without importing any engine (or torch).

An engine's code is imported only when a study asks for it. Adding an engine is one module (a class
with ``name``, ``supports``, ``pack_limit`` and ``train``) plus one entry here (with its options
class, when it has options).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from pydantic import Field

from .base import NOT_IDENTITY, Part


class NoOptions(Part):
    """An engine without options of its own."""


class BatchedOptions(Part):
    """The batched engine's own option: how many runs train together."""

    pack_size: int | None = Field(
        None, gt=0, description="runs trained together in one pack (default: what fits in half the free memory)",
        json_schema_extra=NOT_IDENTITY,
    )


class ReferenceOptions(Part):
    """The reference engine's own option: compile the model (the Trainer's ``torch_compile``)."""

    compile: bool = Field(
        False, description="compile each model with torch.compile before training (the Trainer's torch_compile; pays "
        "off on a GPU for long runs; the same numbers within the compiler's fusions)", json_schema_extra=NOT_IDENTITY,
    )


@dataclass(frozen=True)
class EngineEntry:
    """One engine as the config knows it: its name, module (imported only when used), summary and options."""

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
    EngineEntry("fast", "isoflop.engines.fast", "one run of any family at a time, the LM head and its loss in chunks outside autograd (CPU)"),
    EngineEntry("batched", "isoflop.engines.batched", "K GPT-2 runs in lock-step (stacked weights under vmap)", BatchedOptions),
    EngineEntry("reference", "isoflop.engines.reference", "the HF Trainer, one run at a time: the fidelity baseline, and "
                "the path for one large run per GPU (bf16, SDPA, fused AdamW)", ReferenceOptions),
)
AUTO = "auto"


def engine_names() -> tuple[str, ...]:
    """Every engine's name, fastest first."""
    return tuple(entry.name for entry in ENGINES)


def entry(name: str) -> EngineEntry:
    """The entry of engine ``name`` (KeyError if there is none)."""
    for candidate in ENGINES:
        if candidate.name == name:
            return candidate
    raise KeyError(name)
