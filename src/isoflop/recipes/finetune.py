"""The classic fine-tuning recipe: texts tokenized, concatenated and cut into blocks (``group_texts``), the HF
Trainer with AdamW and weight decay, evaluation each epoch, perplexity before and after, the model saved."""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..config.recipes import PRETRAIN_OUTPUT, FinetuneConfig
from ..errors import UsageError
from .base import MODEL, save_model, validation_source
from .record import RecipeRun, save_recipe_run


@dataclass(frozen=True)
class FinetuneResult:
    """What fine-tuning reports: the blocks it trained and evaluated on, and perplexity before, per epoch, after."""

    folder: Path
    parameters: int
    train_blocks: int
    validation_blocks: int
    perplexity_before: float
    perplexity_after: float
    epoch_perplexities: list[float]
    seconds: float


def blocks(tokenizer, source: str, split: str, text_column: str, seq_len: int, separator: int | None,
           encoding: str = "utf-8") -> list[list[int]]:
    """Every text's tokens joined (``separator`` between texts, None: ``group_texts``) and cut into full blocks."""
    from ..data.packed import ConstantLengthDataset
    from ..data.stream import StreamOptions

    fixed = ConstantLengthDataset(tokenizer, source, StreamOptions(split=split, text_column=text_column, encoding=encoding), seq_len,
                                  chars_per_token=4.0, infinite=False, separator=separator)
    return list(fixed)


def finetune(config: FinetuneConfig, progress: bool = True) -> FinetuneResult:
    """Set up, train with the HF Trainer (evaluated each epoch), save the model, record the run."""
    from ..models.build import count_parameters

    tokenizer, hf_config, train, validation = _setup(config)
    parameters = count_parameters(hf_config)
    started = time.perf_counter()
    model, before, after, history = _train(config, hf_config, train, validation, progress)
    seconds = time.perf_counter() - started
    out = Path(config.output)
    save_model(model, tokenizer, out)
    if config.push_to_hub:
        _push(model, tokenizer, config.push_to_hub)
    _record(config, hf_config, parameters, train, validation, tokenizer, before, history, seconds)
    # train() starts a fresh log: each epoch's evaluation, then the final one.
    epochs = [h["eval_loss"] for h in history if "eval_loss" in h][:-1]
    return FinetuneResult(out, parameters.total, len(train), len(validation), math.exp(before), math.exp(after),
                          [math.exp(v) for v in epochs], seconds)


def _setup(config: FinetuneConfig):
    """The model's tokenizer and config, and the training and validation blocks, every problem one line."""
    from ..models.build import context_length, model_config
    from ..tokenization.resolve import load_tokenizer

    if config.model == f"{PRETRAIN_OUTPUT}/{MODEL}" and not Path(config.model).is_dir():
        raise UsageError(f"model folder {config.model!r} does not exist yet: run isoflop pretrain first, or pass --model FOLDER|NAME")
    if (Path(config.output) / MODEL).exists():
        raise UsageError(f"--output {config.output!r} holds a fine-tuned model already; choose a new --output or remove it")
    if config.precision.precision == "fp16":
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--precision fp16 needs a CUDA GPU; use fp32, or bf16")
    tokenizer = load_tokenizer(config.model)
    hf_config = model_config(config.model, len(tokenizer), config.model_options.dropout)
    data = config.data
    if data.seq_len > context_length(hf_config):
        raise UsageError(f"--seq-len {data.seq_len} exceeds the model's context ({context_length(hf_config)} positions)")
    separator = tokenizer.eos_token_id if data.chunking == "packed" else None
    train = blocks(tokenizer, data.train_data, "train", data.text_column, data.seq_len, separator, data.text_encoding)
    validation = blocks(tokenizer, *validation_source(data), data.text_column, data.seq_len, separator, data.text_encoding)
    for name, found in (("training", train), ("validation", validation)):
        if not found:
            raise UsageError(f"the {name} text holds no full block of {data.seq_len} tokens; give more text or a smaller --seq-len")
    return tokenizer, hf_config, train, validation


def _train(config: FinetuneConfig, hf_config, train: list[list[int]], validation: list[list[int]], progress: bool):
    """The Trainer's loop over the blocks; the model, the validation loss before and after, and the Trainer's log."""
    from transformers import Trainer, default_data_collator
    from transformers.trainer_callback import PrinterCallback

    from ..models.build import build_model

    model = build_model(config.model, hf_config, config.seed)
    with tempfile.TemporaryDirectory(prefix="isoflop-finetune-") as scratch:
        trainer = Trainer(model=model, args=training_arguments(config, len(train), scratch, progress),
                          train_dataset=_Blocks(train), eval_dataset=_Blocks(validation), data_collator=default_data_collator)
        trainer.remove_callback(PrinterCallback)  # the log goes to the record and the summary, not to stdout
        before = trainer.evaluate()["eval_loss"]
        trainer.train()
        after = trainer.evaluate()["eval_loss"]
    return model, before, after, trainer.state.log_history


def training_arguments(config: FinetuneConfig, train_blocks: int, output_dir: str, progress: bool = False):
    """``TrainingArguments`` with every optimizer setting from the optimizer part (none left to library defaults)."""
    import torch
    from transformers import TrainingArguments

    from ..training.optim import trainer_schedule

    optimizer = config.optimizer
    # The Trainer's own count of optimizer steps for these epochs: the warmup is a share of it.
    steps = math.ceil(config.epochs * math.ceil(train_blocks / optimizer.batch_size))
    return TrainingArguments(
        output_dir=output_dir, num_train_epochs=config.epochs, per_device_train_batch_size=optimizer.batch_size,
        per_device_eval_batch_size=optimizer.batch_size, learning_rate=optimizer.learning_rate,
        **trainer_schedule(optimizer, steps),
        weight_decay=optimizer.weight_decay, max_grad_norm=optimizer.max_grad_norm, adam_beta1=optimizer.adam_beta1,
        adam_beta2=optimizer.adam_beta2, adam_epsilon=optimizer.adam_epsilon, optim="adamw_torch_fused",
        bf16=config.precision.precision == "bf16", fp16=config.precision.precision == "fp16",
        eval_strategy="epoch", logging_strategy="epoch", save_strategy="no", report_to=[], seed=config.seed,
        data_seed=config.seed, disable_tqdm=not progress, dataloader_pin_memory=torch.cuda.is_available(),
    )


def _record(config: FinetuneConfig, hf_config, parameters, train, validation, tokenizer, before: float, history,
            seconds: float) -> None:
    from ..models.build import config_facts
    from ..models.counts import every_convention, flops_per_token

    steps = [{"step": 0, "eval_loss": before}] + [
        {"step": h["step"], "train_loss": h.get("loss"), "eval_loss": h.get("eval_loss"), "learning_rate": h.get("learning_rate")}
        for h in history if "eval_loss" in h or "loss" in h
    ]
    seq_len = config.data.seq_len
    facts = config_facts(hf_config)
    per_token = flops_per_token(facts, seq_len, "full" if facts.matmul is not None else "6N")
    seen = int(round(len(train) * config.epochs))
    save_recipe_run(Path(config.output), RecipeRun(
        "finetune", config.model_dump(mode="json", exclude={"output", "push_to_hub"}), config.model, parameters.total,
        parameters.non_embedding, per_token, seen * seq_len, seen, len(train), len(train) * seq_len,
        _merged(steps), validation, tokenizer, seconds, config.precision.precision,
        "reference", every_convention(facts, seq_len)))


class _Blocks:
    """Blocks as the Trainer wants them: input_ids and labels (the model shifts them)."""

    def __init__(self, rows: list[list[int]]):
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict:
        import torch

        ids = torch.tensor(self.rows[index])
        return {"input_ids": ids, "labels": ids.clone()}


def _merged(steps: list[dict]) -> list[dict]:
    """One entry per step: the Trainer logs the training loss and the evaluation of an epoch separately."""
    merged: dict[int, dict] = {}
    for entry in steps:
        target = merged.setdefault(entry["step"], {"step": entry["step"]})
        target.update({k: v for k, v in entry.items() if v is not None})
    return [merged[k] for k in sorted(merged)]


def _push(model, tokenizer, repo: str) -> None:
    from ..hub import ensure_reachable

    ensure_reachable(f"Hub repository {repo!r}", "drop --push-to-hub, or push the saved folder later")
    model.push_to_hub(repo)
    tokenizer.push_to_hub(repo)
