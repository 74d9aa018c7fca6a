"""The scarcity study's configuration: declared once, validated once, passed down.

The CLI options are generated from these fields, YAML/TOML files load into the same
object, and presets are partial configs. Precedence: defaults < preset < file < CLI.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..data.chunking import ChunkingRule
from ..errors import UsageError, first_line

# The classic exercise, named once.
CLASSIC_SEQ_LEN = 64
CLASSIC_BUDGET_PASSES = 100
CLASSIC_BATCH_SIZE = 1
CLASSIC_LEARNING_RATE = 1e-4
CLASSIC_EVAL_SAMPLES = 10
CLASSIC_UNIQUE_SAMPLES = (1, 2, 5, 10, 20, 50, 100)
# A from-scratch model learns almost nothing in 100 steps at 1e-4; 1e-3 makes the
# offline default's answer visible while keeping the protocol otherwise classic.
SCRATCH_LEARNING_RATE = 1e-3


class ScarcityConfig(BaseModel):
    """A data-scarcity study: a fixed budget of passes, a grid of unique-sample counts D."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(
        "scratch:tiny",
        description="model: scratch:SIZE (tiny, mini, small, distilgpt2, gpt2), a local save_pretrained folder, or a Hub name",
    )
    tokenizer: str = Field("gpt2", description="tokenizer: gpt2 (offline), a local folder, or a Hub name")
    train_data: str = Field(
        "python-docs",
        description="training text: python-docs, python-stdlib, hub:NAME[:CONFIG][#SPLIT], or a .txt/.jsonl/.parquet file or folder",
    )
    validation_data: str | None = Field(
        None, description="validation text, same forms; default: the validation split of --train-data (required for local files)"
    )
    text_column: str = Field("text", description="column holding the text in Hub, .jsonl and .parquet data")
    chunking: ChunkingRule = Field("seed", description="seed: full windows per row, rows never join; packed: rows joined with EOS")
    seq_len: int = Field(CLASSIC_SEQ_LEN, gt=0, description="tokens per sample")
    budget_passes: int = Field(CLASSIC_BUDGET_PASSES, gt=0, description="compute budget C in forward+backward passes of one sample")
    batch_size: int = Field(CLASSIC_BATCH_SIZE, gt=0, description="samples per optimizer step")
    learning_rate: float = Field(SCRATCH_LEARNING_RATE, gt=0, description="peak learning rate (AdamW, linear decay to 0, no warmup)")
    unique_samples: tuple[int, ...] = Field(CLASSIC_UNIQUE_SAMPLES, min_length=1, description="grid of D, unique training samples per run")
    seeds: tuple[int, ...] = Field((1,), min_length=1, description="seeds; each controls init (from scratch), sample order and dropout")
    eval_samples: int = Field(CLASSIC_EVAL_SAMPLES, gt=0, description="validation samples evaluated after every step")
    dropout: float | None = Field(None, ge=0, lt=1, description="override the model's dropout (default: the model's own)")
    engine: Literal["auto", "reference", "batched"] = Field(
        "reference", description="reference: HF Trainer, one run at a time; batched: lock-step packs of GPT-2 runs; auto: batched where it applies"
    )
    precision: Literal["fp32", "bf16"] = Field("fp32", description="fp32, or bf16 autocast (CUDA GPU only)")
    pack_size: int | None = Field(None, gt=0, description="runs per pack of the batched engine (default: from free memory)")
    save_models: bool = Field(False, description="save each run's final model under OUTPUT/models/RUN_KEY")
    output: str = Field("isoflop-runs/scarcity", description="output folder: results database, plots, summary")

    @field_validator("unique_samples")
    @classmethod
    def _positive_grid(cls, values: tuple[int, ...]) -> tuple[int, ...]:
        if any(v <= 0 for v in values):
            raise ValueError("every D must be a positive number of samples")
        return tuple(sorted(set(values)))

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, values: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(sorted(set(values)))

    def study_identity(self) -> dict[str, Any]:
        """What makes two configs the same study: everything but the grid and where it is written."""
        return self.model_dump(mode="json", exclude={"unique_samples", "seeds", "output"})


PRESETS: dict[str, dict[str, Any]] = {
    # The classic exercise exactly: distilGPT2 fine-tuned on WikiText-2 from the Hub.
    "classic": {
        "model": "distilgpt2",
        "tokenizer": "gpt2",
        "train_data": "hub:wikitext:wikitext-2-v1",
        "validation_data": None,
        "chunking": "seed",
        "seq_len": CLASSIC_SEQ_LEN,
        "budget_passes": CLASSIC_BUDGET_PASSES,
        "batch_size": CLASSIC_BATCH_SIZE,
        "learning_rate": CLASSIC_LEARNING_RATE,
        "eval_samples": CLASSIC_EVAL_SAMPLES,
        "unique_samples": CLASSIC_UNIQUE_SAMPLES,
    },
    # The offline default, spelled out.
    "offline": {},
}


class IsoflopsConfig(BaseModel):
    """An isoFLOP study: for each compute budget C, models of several sizes N trained on D = C / FLOPs-per-token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    budgets: tuple[float, ...] = Field((3e11, 1e12, 3e12), min_length=1, description="compute budgets C in training FLOPs")
    model_sizes: tuple[str, ...] = Field(
        ("12k", "25k", "100k", "300k"), min_length=1, description="from-scratch ladder rungs (isoflop.models.LADDER)"
    )
    tokenizer: str = Field("bytes", description="bytes (one token per byte, offline), gpt2 (offline), a local folder, or a Hub name")
    train_data: str = Field("python-stdlib", description="training text, as for scarcity")
    validation_data: str | None = Field(None, description="validation text; default: the validation split of --train-data")
    text_column: str = Field("text", description="column holding the text in Hub, .jsonl and .parquet data")
    chunking: ChunkingRule = Field("packed", description="seed or packed (rows joined with EOS)")
    seq_len: int = Field(128, gt=0, description="tokens per sample")
    batch_size: int = Field(16, gt=0, description="samples per optimizer step")
    learning_rate: float = Field(3e-3, gt=0, description="peak learning rate (AdamW)")
    size_learning_rates: dict[str, float] = Field(
        default_factory=dict, description="per-size peak learning rates, e.g. 25m=1e-3,50m=6e-4"
    )
    schedule: Literal["cosine", "linear"] = Field("cosine", description="decay to 0 after warmup")
    warmup_fraction: float = Field(0.05, ge=0, lt=1, description="fraction of each run's steps spent warming up")
    unique_tokens: int | None = Field(None, gt=0, description="cap on unique training tokens U; runs then repeat data")
    flop_convention: Literal["6N", "full"] = Field(
        "full", description="FLOPs per token: 6N (non-embedding) or full (attention, embeddings, LM head)"
    )
    seeds: tuple[int, ...] = Field((1,), min_length=1, description="seeds (init, data order, dropout)")
    eval_samples: int = Field(32, gt=0, description="validation samples per evaluation")
    evals_per_run: int = Field(10, gt=0, description="points on each run's validation curve")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout of the from-scratch models")
    min_steps: int = Field(20, gt=0, description="runs with fewer optimizer steps are skipped (the model is too big for C)")
    output: str = Field("isoflop-runs/isoflops", description="output folder")

    @field_validator("budgets")
    @classmethod
    def _positive_budgets(cls, values: tuple[float, ...]) -> tuple[float, ...]:
        if any(v <= 0 for v in values):
            raise ValueError("every compute budget must be a positive number of FLOPs")
        return tuple(sorted(set(values)))

    @field_validator("model_sizes")
    @classmethod
    def _known_sizes(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        from ..models import LADDER

        unknown = [v for v in values if v not in LADDER]
        if unknown:
            raise ValueError(f"unknown ladder size(s) {', '.join(unknown)}; choose from {', '.join(LADDER)}")
        order = list(LADDER)
        return tuple(sorted(set(values), key=order.index))

    def study_identity(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"budgets", "model_sizes", "seeds", "output"})


ISOFLOPS_PRESETS: dict[str, dict[str, Any]] = {
    "offline": {},
    # A GPU-scale study in the spirit of Hoffmann et al.: GPT-2 tokenizer, WikiText-103, 1e16–1e18 FLOPs.
    "gpu": {
        "budgets": (1e16, 3e16, 1e17, 3e17, 1e18),
        "model_sizes": ("800k", "2m", "5m", "10m", "25m", "50m", "85m", "125m"),
        "tokenizer": "gpt2",
        "train_data": "hub:wikitext:wikitext-103-v1",
        "seq_len": 512,
        "batch_size": 32,
        "learning_rate": 1e-3,
        "eval_samples": 64,
    },
}


def build_config(
    preset: str | None = None,
    config_file: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    kind: type[BaseModel] = ScarcityConfig,
):
    """Merge defaults < preset < file < overrides and validate once."""
    values: dict[str, Any] = {}
    file_values = _read_config_file(Path(config_file)) if config_file else {}
    preset = preset or file_values.pop("preset", None)
    file_values.pop("preset", None)
    presets = ISOFLOPS_PRESETS if kind is IsoflopsConfig else PRESETS
    if preset is not None:
        if preset not in presets:
            raise UsageError(f"unknown preset {preset!r}; choose one of: {', '.join(presets)}")
        values.update(presets[preset])
    values.update(file_values)
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return kind(**values)
    except ValidationError as error:
        raise UsageError(f"invalid configuration: {_describe(error)}") from None


def _describe(error: ValidationError) -> str:
    parts = []
    for problem in error.errors():
        where = ".".join(str(p) for p in problem["loc"]) or "config"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown setting"
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def _read_config_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UsageError(f"config file {str(path)!r} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        elif path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            raise UsageError(f"config file {str(path)!r}: use .yaml, .yml, .toml or .json")
    except (yaml.YAMLError, tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"config file {str(path)!r} cannot be parsed: {first_line(error)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"config file {str(path)!r} must hold a mapping of settings")
    return {key.replace("-", "_"): value for key, value in data.items()}
