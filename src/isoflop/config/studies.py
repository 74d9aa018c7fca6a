"""Each study's configuration: the shared parts plus the study's own grid and budget.

A study composes the parts of ``config.parts`` (``config.compose``) and sets its own defaults
for them in ``DEFAULTS`` (flat names); nothing here re-declares a part's setting.
"""

from __future__ import annotations

import itertools
import math
import types
from dataclasses import dataclass
import typing
from typing import Any, ClassVar

from pydantic import Field, ValidationError, field_validator, model_validator

from ..models.specs import LADDER
from .base import GRID, MAX_SEED, NOT_IDENTITY, in_identity, keyed_value
from .compose import flat_fields, merge, nest
from .fit import BootstrapConfig, FitConfig
from .parts import (
    EngineConfig,
    ExecutionConfig,
    FlopConvention,
    ModelConfig,
    OptimizerConfig,
    Output,
    SlurmConfig,
    Tracked,
    slurm_seconds,
    TrainingParts,
)

# The parts whose numeric settings a study may vary along a grid axis (--grid FIELD=V1,V2): none of them changes a
# model's shape, its data or its budget.
AXIS_PARTS = (ModelConfig, OptimizerConfig)

CLASSIC_BUDGET_PASSES = 100
CLASSIC_UNIQUE_SAMPLES = (1, 2, 5, 10, 20, 50, 100)
# A from-scratch model learns almost nothing in 100 steps at the classic 1e-4; 1e-3 makes the
# offline default's answer visible while keeping the protocol otherwise classic.
SCRATCH_LEARNING_RATE = 1e-3
# The scarcity study's default seeds: three per D, so that every cost comes with its spread.
SCARCITY_SEEDS = (1, 2, 3)
# Each size's peak learning rate in the isoFLOP study's offline default (bytes, python-stdlib, 16 × 128 tokens,
# cosine, 5 % warmup): the best of {1e-3, 3e-3, 1e-2, 3e-2, 6e-2} at the default budgets where the size is near the
# compute-optimal one (100k: at 1e12, the only one it trains at). The best rate falls with size and rises with
# run length (25k and 50k prefer 3e-3 in runs of ~300 steps, 1e-2 in runs of ~1,000). benchmarks/learning_rates.py
# reruns the sweep.
VALIDATED_LEARNING_RATES = {"0.4k": 6e-2, "0.8k": 6e-2, "2k": 3e-2, "3k": 3e-2, "6k": 1e-2, "12k": 1e-2, "25k": 1e-2,
                            "50k": 1e-2, "100k": 3e-3}


class StudyConfig(TrainingParts, Output, Tracked):
    """What every study shares: the training parts, the engine and executor, its seeds, where it is written."""

    kind: ClassVar[str] = ""

    engine: EngineConfig = Field(default_factory=EngineConfig)
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    slurm: SlurmConfig = Field(default_factory=SlurmConfig)
    seeds: tuple[int, ...] = Field(
        (1,), min_length=1, description="seeds, 0 to 2^32-1; each controls init (from scratch), sample order and dropout",
        json_schema_extra=GRID,
    )
    save_models: bool = Field(False, description="save each run's final model under OUTPUT/models/RUN_KEY", json_schema_extra=NOT_IDENTITY)
    grid: dict[str, tuple[float, ...]] = Field(
        default_factory=dict, description="grid axes over numeric model and optimizer settings, FIELD=V1,V2,... (repeat "
        "--grid for more axes): every combination x D x seed is one run", json_schema_extra=GRID,
    )

    @field_validator("seeds")
    @classmethod
    def _valid_seeds(cls, values: tuple[int, ...]) -> tuple[int, ...]:
        bad = [v for v in values if not 0 <= v <= MAX_SEED]
        if bad:
            raise ValueError(f"seeds must lie between 0 and {MAX_SEED}, got {', '.join(map(str, bad))}")
        return tuple(sorted(set(values)))

    @field_validator("grid")
    @classmethod
    def _numeric_axes(cls, axes: dict[str, tuple[float, ...]]) -> dict[str, tuple[float, ...]]:
        numeric = axis_fields()
        for name, values in axes.items():
            if name not in numeric:
                what = ("is not a numeric setting" if any(name in part.model_fields for part in AXIS_PARTS)
                        else "is not a model or optimizer setting (an axis may not change the model's shape, the data or "
                        "the budget)")
                raise ValueError(f"{name} {what}; axes vary one of {', '.join(numeric)}")
            if not values:
                raise ValueError(f"the axis {name} has no values; give them as {name}=V1,V2")
        return {name: tuple(sorted(set(values))) for name, values in sorted(axes.items())}

    @model_validator(mode="after")
    def _slurm_settings_apply(self):
        """SLURM's settings do nothing elsewhere; on SLURM, a task must outlive a checkpoint interval."""
        changed = self.slurm.changed()
        if self.execution.executor != "slurm":
            if changed:
                raise ValueError(f"--{changed[0].replace('_', '-')} applies to --executor slurm only; add --executor "
                                 "slurm, or drop it")
            return self
        limit, interval = slurm_seconds(self.slurm.slurm_time), self.engine.checkpoint_seconds
        if self.engine.engine != "reference" and interval + self.slurm.slurm_signal_seconds >= limit:
            raise ValueError(f"--slurm-time {self.slurm.slurm_time} ({limit} s) leaves no room for a checkpoint every "
                             f"{interval:g} s before SLURM's warning {self.slurm.slurm_signal_seconds} s before the end: "
                             "raise --slurm-time, or lower --checkpoint-seconds or --slurm-signal-seconds")
        return self

    @model_validator(mode="after")
    def _axis_values_valid(self):
        for setting in self.axis_settings() if self.grid else ():
            try:
                self.with_setting(setting)
            except ValidationError as error:
                problem = error.errors()[0]
                raise ValueError(f"--grid {_described(setting)}: {problem['msg'].removeprefix('Value error, ')}") from None
        return self

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {"output": f"isoflop-runs/{cls.kind}"} | cls.DEFAULTS

    def identity(self) -> dict[str, Any]:
        """What makes two configs the same study: every setting that can change a run's numbers, but the grid."""
        fields = flat_fields(type(self))
        return {"study": self.kind} | {n: keyed_value(fields[n][1], v) for n, v in self.flat().items()
                                       if in_identity(fields[n][1], v)}

    def axis_settings(self) -> list[dict[str, float]]:
        """Every combination of the grid axes' values, in order (one empty setting for a study without axes)."""
        names = list(self.grid)
        return [dict(zip(names, values)) for values in itertools.product(*(self.grid[n] for n in names))]

    def baseline_setting(self) -> dict[str, float]:
        """The axes' baseline: the study's own value of each setting where its axis holds it, else the axis's smallest."""
        own = self.flat()
        return {name: own[name] if own[name] in values else values[0] for name, values in self.grid.items()}

    def with_setting(self, setting: dict[str, float]) -> StudyConfig:
        """This study at one point of its axes (the config its runs at that point train with; it has no axes)."""
        cls = type(self)
        values = {**setting, **self.replaced_by(setting), "grid": {}}
        return cls.model_validate(merge(cls, nest(cls, self.flat()), nest(cls, values)))

    def replaced_by(self, setting: dict[str, float]) -> dict[str, Any]:
        """Settings that an axis value overrides as well (none here)."""
        return {}

    def settings(self) -> list[AxisPoint]:
        """Each point of the axes, with the config its runs train with (one point, the study itself, without axes)."""
        points = []
        for setting in self.axis_settings():
            point = self.with_setting(setting) if setting else self
            flat = point.flat()  # as the point's parts hold them: batch_size=2, not 2.0
            # Every setting an axis may set, and every one an axis value can override (whatever this point's axes).
            matched = axis_fields() + list(self.replaced_by(dict.fromkeys(axis_fields(), 1.0)))
            points.append(AxisPoint({name: flat[name] for name in setting}, point, {name: flat[name] for name in matched}))
        return points


@dataclass(frozen=True)
class AxisPoint:
    """One point of a study's grid axes: its values, the config its runs train with, and what its runs' configs hold
    (every setting an axis may vary, and those a value overrides), which tells its stored runs apart."""

    setting: dict[str, Any]
    config: StudyConfig
    values: dict[str, Any]

    def describe(self) -> str:
        return ", ".join(f"{name}={value:g}" for name, value in self.setting.items()) or "the study's own settings"


def axis_fields() -> list[str]:
    """The settings a grid axis may vary: every numeric field of the model and optimizer parts."""
    return [name for part in AXIS_PARTS for name, field in part.model_fields.items() if _is_number(field.annotation)]


def _is_number(annotation) -> bool:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return len(args) == 1 and _is_number(args[0])
    return annotation in (int, float)


def _described(setting: dict[str, float]) -> str:
    return ",".join(f"{name}={value:g}" for name, value in setting.items())


class ScarcityConfig(StudyConfig):
    """A data-scarcity study: a fixed budget of passes, a grid of unique-sample counts D."""

    kind: ClassVar[str] = "scarcity"
    # 200 resamples keep the report's R_D* fit to seconds.
    DEFAULTS: ClassVar[dict[str, Any]] = {"learning_rate": SCRATCH_LEARNING_RATE, "seeds": SCARCITY_SEEDS,
                                          "fit_bootstrap": 200}

    bootstrap: BootstrapConfig = Field(default_factory=BootstrapConfig)

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

    @model_validator(mode="after")
    def _read_by_the_budget(self):
        """A D beyond the samples the budget reads would train on fewer unique samples than its label says."""
        beyond = [d for d in self.unique_samples if d > self.budget_passes]
        if beyond:
            raise ValueError(f"D = {', '.join(map(str, beyond))} exceeds the {self.budget_passes} samples a budget of "
                             f"{self.budget_passes} passes reads: such a run would see only {self.budget_passes} unique "
                             "samples, the same as D = budget_passes; lower D or raise budget_passes")
        return self


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

    @model_validator(mode="after")
    def _wsd_warmup_in_steps(self):
        if self.optimizer.schedule == "wsd" and self.optimizer.warmup_fraction:
            raise ValueError(
                "--schedule wsd: the runs of a size branch from one trunk, so its warmup must be the same number of "
                "steps at every budget; give --warmup-steps N instead of --warmup-fraction (--preset wsd warms up for "
                f"{WSD_WARMUP_STEPS} steps)"
            )
        return self

    def replaced_by(self, setting: dict[str, float]) -> dict[str, Any]:
        """A learning-rate axis sets every size's rate: the per-size rates give way."""
        return {"size_learning_rates": {}} if "learning_rate" in setting else {}

    def learning_rate_of(self, size: str) -> float:
        return self.size_learning_rates.get(size, self.optimizer.learning_rate)


# The isoFLOP study's wsd warmup, in steps (the same at every budget, so that budgets share a trunk): 10 % of the
# default's shortest runs, 1-3 % of its longest.
WSD_WARMUP_STEPS = 32
WSD_DEFAULTS: dict[str, Any] = {"schedule": "wsd", "warmup_steps": WSD_WARMUP_STEPS}

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
