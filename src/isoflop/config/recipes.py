"""The recipes' configs, composed of the shared parts: pretraining from scratch and fine-tuning."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from ..models.specs import SCRATCH_SIZES
from .base import NOT_IDENTITY
from .compose import Composed
from .parts import (
    DataConfig,
    ModelConfig,
    OptimizerConfig,
    Output,
    PrecisionConfig,
    Seeded,
    StreamConfig,
    Tracked,
    TrainingParts,
)

PRETRAIN_OUTPUT = "isoflop-runs/pretrain"
FINETUNE_OUTPUT = "isoflop-runs/finetune"
# What ``isoflop tokenizer train`` writes with no arguments: the recipe chain's default tokenizer.
CHAIN_TOKENIZER = "isoflop-runs/tokenizers/python-stdlib-4096"


class PretrainConfig(TrainingParts, Seeded, Output, Tracked):
    """A GPT-2 pretrained from scratch on a streamed corpus, counted in optimizer steps.

    The shared parts (data, tokenizer, model, optimizer, evaluation, precision, stream) with the
    recipe's defaults in ``DEFAULTS``; its own fields are what only pretraining has.
    """

    DEFAULTS: ClassVar[dict[str, Any]] = {
        "output": PRETRAIN_OUTPUT,
        "tokenizer": CHAIN_TOKENIZER,
        "train_data": "python-stdlib",
        "chunking": "packed",
        "seq_len": 128,
        "batch_size": 16,
        "learning_rate": 1e-3,
        "weight_decay": 0.1,
        "warmup_steps": 50,
        "schedule": "cosine",
        "eval_every": 100,
        "eval_samples": 128,
        "shuffle_buffer": 1000,
    }

    precision: PrecisionConfig = Field(default_factory=PrecisionConfig)
    stream: StreamConfig = Field(default_factory=StreamConfig)
    size: str = Field("mini", description=f"GPT-2 shape: {', '.join(SCRATCH_SIZES)}")
    gpt2_overrides: dict[str, float] = Field(default_factory=dict, description="GPT2Config fields to override, e.g. n_layer=4,n_embd=128")
    max_steps: int = Field(600, gt=0, description="optimizer steps to train")
    gradient_accumulation: int = Field(1, gt=0, description="micro-batches of --batch-size accumulated per optimizer step and process")
    checkpoint_every: int = Field(200, gt=0, description="save a resumable checkpoint every this many steps", json_schema_extra=NOT_IDENTITY)
    chars_per_token: float | None = Field(None, gt=0, description="characters per token for the packing buffer (default: measured)")
    loop: Literal["accelerate", "lightning"] = Field(
        "accelerate", description="the training loop: accelerate (🤗 Accelerate; also under accelerate launch) or "
        "lightning (PyTorch Lightning, one device; pip install 'isoflop[lightning]')",
    )

    @model_validator(mode="after")
    def _known(self) -> PretrainConfig:
        if self.size not in SCRATCH_SIZES:
            raise ValueError(f"unknown --size {self.size!r}; choose one of {', '.join(SCRATCH_SIZES)}")
        for name, value in self.gpt2_overrides.items():
            if not math.isfinite(value):
                raise ValueError(f"gpt2_overrides: {name} must be a finite number")
        if self.data.chunking == "per-row":
            raise ValueError("--chunking per-row cuts each row on its own, which a packed stream does not do; pretrain "
                             "joins documents with EOS (packed) or without a separator (concatenated)")
        return self


class FinetuneConfig(Composed, Seeded, Output):
    """The classic fine-tuning recipe: ``group_texts`` blocks, the HF Trainer, perplexity before and after.

    Every optimizer setting is passed to ``TrainingArguments`` from the optimizer part, none is left
    to the library's defaults; the tokenizer is the model's own.
    """

    DEFAULTS: ClassVar[dict[str, Any]] = {
        "output": FINETUNE_OUTPUT,
        "train_data": "python-docs",
        "chunking": "concatenated",
        "seq_len": 128,
        "batch_size": 8,
        "learning_rate": 2e-5,
        "weight_decay": 0.01,
    }

    data: DataConfig = Field(default_factory=DataConfig)
    model_options: ModelConfig = Field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    precision: PrecisionConfig = Field(default_factory=PrecisionConfig)
    model: str = Field(f"{PRETRAIN_OUTPUT}/model", description="model to fine-tune: a folder or a Hub name (default: isoflop pretrain's)")
    epochs: float = Field(3.0, gt=0, description="training epochs (evaluated after each)")
    push_to_hub: str | None = Field(None, description="push the model and tokenizer to this Hub repository (opt-in)", json_schema_extra=NOT_IDENTITY)

    @model_validator(mode="after")
    def _blocks(self) -> FinetuneConfig:
        if self.data.chunking == "per-row":
            raise ValueError("--chunking per-row cuts each row on its own; fine-tuning joins its texts into blocks "
                             "(concatenated, the group_texts recipe, or packed, with EOS between texts)")
        return self


