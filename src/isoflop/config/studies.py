"""Each study's configuration: the shared parts plus the study's own grid and budget.

A study composes the parts of ``config.parts`` (``config.compose``) and sets its own defaults
for them in ``DEFAULTS`` (flat names); nothing here re-declares a part's setting.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import Field, field_validator

from ..models.specs import LADDER
from .base import GRID, MAX_SEED, NOT_IDENTITY, in_identity, is_grid, keyed_value
from .compose import flat_fields
from .fit import FitConfig
from .parts import (
    EngineConfig,
    ExecutionConfig,
    FlopConvention,
    Output,
    TrainingParts,
)

CLASSIC_BUDGET_PASSES = 100
CLASSIC_UNIQUE_SAMPLES = (1, 2, 5, 10, 20, 50, 100)
# A from-scratch model learns almost nothing in 100 steps at the classic 1e-4; 1e-3 makes the
# offline default's answer visible while keeping the protocol otherwise classic.
SCRATCH_LEARNING_RATE = 1e-3
# Each size's peak learning rate in the isoFLOP study's offline default (bytes, python-stdlib, 16 × 128 tokens,
# cosine, 5 % warmup): the best of {1e-3, 3e-3, 1e-2, 3e-2, 6e-2} at the default budgets where the size is near the
# compute-optimal one (100k: at 1e12, the only one it trains at). The best rate falls with size and rises with
# run length (25k and 50k prefer 3e-3 in runs of ~300 steps, 1e-2 in runs of ~1,000). benchmarks/learning_rates.py
# reruns the sweep.
VALIDATED_LEARNING_RATES = {"0.4k": 6e-2, "0.8k": 6e-2, "2k": 3e-2, "3k": 3e-2, "6k": 1e-2, "12k": 1e-2, "25k": 1e-2,
                            "50k": 1e-2, "100k": 3e-3}


class StudyConfig(TrainingParts, Output):
    """What every study shares: the training parts, the engine and executor, its seeds, where it is written."""

    kind: ClassVar[str] = ""

    engine: EngineConfig = Field(default_factory=EngineConfig)
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    seeds: tuple[int, ...] = Field(
        (1,), min_length=1, description="seeds, 0 to 2^32-1; each controls init (from scratch), sample order and dropout",
        json_schema_extra=GRID,
    )
    save_models: bool = Field(False, description="save each run's final model under OUTPUT/models/RUN_KEY", json_schema_extra=NOT_IDENTITY)

    @field_validator("seeds")
    @classmethod
    def _valid_seeds(cls, values: tuple[int, ...]) -> tuple[int, ...]:
        bad = [v for v in values if not 0 <= v <= MAX_SEED]
        if bad:
            raise ValueError(f"seeds must lie between 0 and {MAX_SEED}, got {', '.join(map(str, bad))}")
        return tuple(sorted(set(values)))

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {"output": f"isoflop-runs/{cls.kind}"} | cls.DEFAULTS

    def identity(self) -> dict[str, Any]:
        """What makes two configs the same study: every setting that can change a run's numbers, but the grid."""
        fields = flat_fields(type(self))
        return {"study": self.kind} | {n: keyed_value(fields[n][1], v) for n, v in self.flat().items()
                                       if in_identity(fields[n][1], v)}

    def grid(self) -> dict[str, Any]:
        fields = flat_fields(type(self))
        return {n: v for n, v in self.flat().items() if is_grid(fields[n][1])}


class ScarcityConfig(StudyConfig):
    """A data-scarcity study: a fixed budget of passes, a grid of unique-sample counts D."""

    kind: ClassVar[str] = "scarcity"
    DEFAULTS: ClassVar[dict[str, Any]] = {"learning_rate": SCRATCH_LEARNING_RATE}

    model: str = Field(
        "scratch:tiny",
        description="model: scratch:SIZE (tiny, mini, small, distilgpt2, gpt2, or a ladder size), a local save_pretrained folder, or a Hub name",
    )
    budget_passes: int = Field(CLASSIC_BUDGET_PASSES, gt=0, description="compute budget C in forward+backward passes of one sample")
    unique_samples: tuple[int, ...] = Field(
        CLASSIC_UNIQUE_SAMPLES, min_length=1, description="grid of D, unique training samples per run", json_schema_extra=GRID
    )

    @field_validator("unique_samples")
    @classmethod
    def _positive_grid(cls, values: tuple[int, ...]) -> tuple[int, ...]:
        if any(v <= 0 for v in values):
            raise ValueError("every D must be a positive number of samples")
        return tuple(sorted(set(values)))


class IsoflopsConfig(StudyConfig):
    """An isoFLOP study: for each compute budget C, models of several sizes N trained on D = C / FLOPs-per-token."""

    kind: ClassVar[str] = "isoflops"
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "tokenizer": "bytes",
        "train_data": "python-stdlib",
        "chunking": "packed",
        "seq_len": 128,
        "batch_size": 16,
        "learning_rate": 3e-3,
        "schedule": "cosine",
        "warmup_fraction": 0.05,
        "eval_samples": 32,
        "evals_per_run": 10,
        "dropout": 0.0,
        "size_learning_rates": VALIDATED_LEARNING_RATES,
        # The report's fits: every check on; 30 resamples keep the default study's fits to seconds.
        "fit_bootstrap": 30,
        "holdout_largest": True,
        "leave_one_out": True,
        "robustness": True,
    }

    fit: FitConfig = Field(default_factory=FitConfig)
    budgets: tuple[float, ...] = Field(
        (1e11, 2.15e11, 4.64e11, 1e12), min_length=1, description="compute budgets C in training FLOPs", json_schema_extra=GRID
    )
    model_sizes: tuple[str, ...] = Field(
        ("0.4k", "0.8k", "2k", "3k", "6k", "12k", "25k", "50k", "100k"), min_length=1,
        description="from-scratch ladder rungs (isoflop.models.LADDER); with --bracket, the sizes budgets choose from",
        json_schema_extra=GRID,
    )
    size_learning_rates: dict[str, float] = Field(
        default_factory=dict, description="per-size peak learning rates; sizes not named (or all, with none) use "
        "--learning-rate"
    )
    unique_tokens: int | None = Field(None, gt=0, description="cap on unique training tokens U; runs then repeat data")
    flop_convention: FlopConvention = Field(
        "full", description="FLOPs per token: 6N (non-embedding) or full (attention, embeddings, LM head)"
    )
    min_steps: int = Field(20, gt=0, description="runs with fewer optimizer steps are skipped (the model is too big for C)")
    bracket: int = Field(
        2, ge=0, description="train at each budget only the sizes that put this many on each side of its loss minimum, "
        "in rounds (0: every size at every budget)", json_schema_extra=NOT_IDENTITY,
    )

    @field_validator("budgets")
    @classmethod
    def _positive_budgets(cls, values: tuple[float, ...]) -> tuple[float, ...]:
        if any(v <= 0 for v in values):
            raise ValueError("every compute budget must be a positive number of FLOPs")
        return tuple(sorted(set(values)))

    @field_validator("model_sizes")
    @classmethod
    def _known_sizes(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [v for v in values if v not in LADDER]
        if unknown:
            raise ValueError(f"unknown ladder size(s) {', '.join(unknown)}; choose from {', '.join(LADDER)}")
        order = list(LADDER)
        return tuple(sorted(set(values), key=order.index))

    @field_validator("size_learning_rates")
    @classmethod
    def _rates_for_ladder_sizes(cls, rates: dict[str, float]) -> dict[str, float]:
        for size, rate in rates.items():
            if size not in LADDER:
                raise ValueError(f"{size!r} is not a ladder size; choose from "
                                 f"{', '.join(LADDER)}")
            if not (math.isfinite(rate) and rate > 0):
                raise ValueError(f"the rate of {size} must be a positive finite number, got {rate}")
        return rates

    def learning_rate_of(self, size: str) -> float:
        return self.size_learning_rates.get(size, self.optimizer.learning_rate)


# The vocabulary study's offline default (isoflop vocab, and the isoflops preset "vocab"): three budgets, four
# sizes, per tokenizer, one learning rate (the per-size rates were validated for the byte tokenizer only).
VOCAB_DEFAULTS: dict[str, Any] = {
    "budgets": (1e11, 3e11, 1e12),
    "model_sizes": ("6k", "12k", "25k", "50k"),
    "size_learning_rates": {},
}
DEFAULT_TOKENIZERS = ("bytes", "bpe:1024", "bpe:4096")


class VocabConfig(IsoflopsConfig):
    """The vocabulary study: the isoFLOP study's settings (its ``vocab`` defaults), once per tokenizer.

    Its ``tokenizers`` take the place of ``tokenizer``: each gets its own isoFLOP study in
    ``OUTPUT/NAME/``; ``bpe:N`` is a byte-level BPE of N tokens trained first on ``--train-data``.
    """

    kind: ClassVar[str] = "vocab"
    DEFAULTS: ClassVar[dict[str, Any]] = IsoflopsConfig.DEFAULTS | VOCAB_DEFAULTS

    tokenizers: tuple[str, ...] = Field(
        DEFAULT_TOKENIZERS, description="tokenizers to compare: bytes, gpt2, folders, Hub names, or bpe:N "
        "(a BPE of N tokens trained first on the study's --train-data)",
    )

    @field_validator("tokenizers")
    @classmethod
    def _at_least_two(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        values = tuple(v.strip() for v in values if v.strip())
        if len(values) < 2:
            raise ValueError("give at least two tokenizers to compare, e.g. bytes,bpe:1024,bpe:4096")
        return values


STUDIES: dict[str, type[StudyConfig]] = {c.kind: c for c in (ScarcityConfig, IsoflopsConfig)}
