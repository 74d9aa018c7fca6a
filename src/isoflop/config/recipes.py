"""The recipes' settings: pretraining from scratch and fine-tuning, each declared once and validated once."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from ..errors import UsageError
from ..models.specs import SCRATCH_SIZES
from .base import MAX_SEED, NOT_IDENTITY, Part

PRETRAIN_OUTPUT = "isoflop-runs/pretrain"
FINETUNE_OUTPUT = "isoflop-runs/finetune"
# What ``isoflop tokenizer train`` writes with no arguments: the recipe chain's default tokenizer.
CHAIN_TOKENIZER = "isoflop-runs/tokenizers/python-stdlib-4096"
TRACKERS = ("tensorboard", "wandb", "mlflow")


class PretrainConfig(Part):
    """A GPT-2 pretrained from scratch on a streamed corpus, counted in optimizer steps."""

    size: str = Field("mini", description=f"GPT-2 shape: {', '.join(SCRATCH_SIZES)}")
    gpt2_overrides: dict[str, float] = Field(default_factory=dict, description="GPT2Config fields to override, e.g. n_layer=4,n_embd=128")
    tokenizer: str = Field(CHAIN_TOKENIZER, description="tokenizer: a folder from isoflop tokenizer train, gpt2, bytes, or a Hub name")
    train_data: str = Field("python-stdlib", description="training text: python-docs, python-stdlib, hub:NAME[:CONFIG][#SPLIT], or a file or folder")
    validation_data: str | None = Field(None, description="validation text (default: the validation split of --train-data)")
    text_column: str = Field("text", description="column holding the text in Hub, .jsonl and .parquet data")
    seq_len: int = Field(128, gt=0, description="tokens per sequence")
    batch_size: int = Field(16, gt=0, description="sequences per optimizer step and process (before accumulation)")
    gradient_accumulation: int = Field(1, gt=0, description="micro-batches accumulated per optimizer step")
    learning_rate: float = Field(1e-3, gt=0, description="peak learning rate (AdamW)")
    weight_decay: float = Field(0.1, ge=0, description="AdamW decoupled weight decay")
    warmup_steps: int = Field(50, ge=0, description="linear warmup from 0 over this many steps")
    schedule: Literal["linear", "cosine"] = Field("cosine", description="decay to 0 after warmup")
    max_steps: int = Field(600, gt=0, description="optimizer steps to train")
    max_grad_norm: float = Field(1.0, gt=0, description="clip the global gradient L2 norm to this value")
    eval_every: int = Field(100, gt=0, description="evaluate every this many steps (and at the last)")
    eval_steps: int = Field(8, gt=0, description="validation batches per evaluation")
    checkpoint_every: int = Field(200, gt=0, description="save a resumable checkpoint every this many steps", json_schema_extra=NOT_IDENTITY)
    mixed_precision: Literal["no", "bf16", "fp16"] = Field("no", description="Accelerate's mixed precision (bf16/fp16 where the hardware has it)")
    shuffle_buffer: int = Field(1000, ge=0, description="documents in the shuffle buffer (0: the corpus order)")
    chars_per_token: float | None = Field(None, gt=0, description="characters per token for the packing buffer (default: measured)")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="seed of the model's initialisation, the shuffle and dropout (0 to 2^32-1)")
    report_to: tuple[str, ...] = Field((), description="trackers, as the Trainer's --report-to: tensorboard, wandb, mlflow (default: none)",
                                       json_schema_extra=NOT_IDENTITY)
    out: str = Field(PRETRAIN_OUTPUT, description="folder for checkpoints, metrics and the final model", json_schema_extra=NOT_IDENTITY)

    @model_validator(mode="after")
    def _known(self) -> PretrainConfig:
        if self.size not in SCRATCH_SIZES:
            raise ValueError(f"unknown --size {self.size!r}; choose one of {', '.join(SCRATCH_SIZES)}")
        for name, value in self.gpt2_overrides.items():
            if not math.isfinite(value):
                raise ValueError(f"gpt2_overrides: {name} must be a finite number")
        unknown = [t for t in self.report_to if t not in TRACKERS]
        if unknown:
            raise ValueError(f"report_to: unknown tracker(s) {', '.join(unknown)}; choose from {', '.join(TRACKERS)}")
        return self


class FinetuneConfig(Part):
    """The classic fine-tuning recipe: group_texts blocks, the HF Trainer, perplexity before and after."""

    model: str = Field(f"{PRETRAIN_OUTPUT}/model", description="model to fine-tune: a folder or a Hub name (default: isoflop pretrain's)")
    data: str = Field("python-docs", description="text: python-docs, python-stdlib, hub:wikitext:wikitext-2-raw-v1, or a file or folder")
    validation_data: str | None = Field(None, description="validation text (default: the validation split of --data)")
    text_column: str = Field("text", description="column holding the text in Hub, .jsonl and .parquet data")
    block_size: int = Field(128, gt=0, description="tokens per block (group_texts)")
    learning_rate: float = Field(2e-5, gt=0, description="peak learning rate (AdamW)")
    weight_decay: float = Field(0.01, ge=0, description="AdamW decoupled weight decay")
    epochs: float = Field(3.0, gt=0, description="training epochs")
    batch_size: int = Field(8, gt=0, description="per-device batch size")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="seed of the Trainer (0 to 2^32-1)")
    push_to_hub: str | None = Field(None, description="push the model and tokenizer to this Hub repository (opt-in)", json_schema_extra=NOT_IDENTITY)
    out: str = Field(FINETUNE_OUTPUT, description="folder for the fine-tuned model", json_schema_extra=NOT_IDENTITY)


def build_recipe(cls: type[Part], values: dict[str, Any]) -> Part:
    try:
        return cls(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as error:
        from .load import describe

        raise UsageError(f"invalid configuration: {describe(error)}") from None
