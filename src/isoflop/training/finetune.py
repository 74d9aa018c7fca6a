"""The classic fine-tuning recipe: texts tokenized, concatenated and cut into blocks (``group_texts``), the HF
Trainer with AdamW and weight decay, evaluation each epoch, perplexity before and after, the model saved."""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..config.recipes import FinetuneConfig, PRETRAIN_OUTPUT
from ..data.packed import PackedDataset
from ..data.stream import StreamOptions
from ..errors import UsageError
from ..files import atomic_folder
from .recipe_record import RecipeRun, bytes_per_token, save_recipe_run

MODEL = "model"


@dataclass(frozen=True)
class FinetuneResult:
    folder: Path
    parameters: int
    train_blocks: int
    validation_blocks: int
    perplexity_before: float
    perplexity_after: float
    epoch_perplexities: list[float]
    seconds: float


def blocks(tokenizer, source: str, split: str, text_column: str, block_size: int) -> list[list[int]]:
    """``group_texts``: every text's tokens concatenated (no separator) and cut into full blocks."""
    fixed = PackedDataset(tokenizer, source, StreamOptions(split=split, text_column=text_column), block_size,
                          chars_per_token=4.0, infinite=False, separator=None)
    return list(fixed)


def finetune(config: FinetuneConfig, progress: bool = True) -> FinetuneResult:
    import torch
    from transformers import Trainer, TrainingArguments, default_data_collator
    from transformers.trainer_callback import PrinterCallback

    from ..budget import flops_per_token
    from ..models.build import architecture, build_model, context_length, count_parameters, model_config
    from ..tokenization.resolve import load_tokenizer

    if config.model == f"{PRETRAIN_OUTPUT}/{MODEL}" and not Path(config.model).is_dir():
        raise UsageError(f"model folder {config.model!r} does not exist yet: run isoflop pretrain first, or pass --model FOLDER|NAME")
    out = Path(config.out)
    if (out / MODEL).exists():
        raise UsageError(f"--out {str(out)!r} holds a fine-tuned model already; choose a new --out or remove it")
    tokenizer = load_tokenizer(config.model)
    hf_config = model_config(config.model, len(tokenizer))
    if config.block_size > context_length(hf_config):
        raise UsageError(f"--block-size {config.block_size} exceeds the model's context ({context_length(hf_config)} positions)")
    validation_source, validation_split = (config.validation_data, "train") if config.validation_data else (config.data, "validation")
    train = blocks(tokenizer, config.data, "train", config.text_column, config.block_size)
    validation = blocks(tokenizer, validation_source, validation_split, config.text_column, config.block_size)
    for name, found in (("training", train), ("validation", validation)):
        if not found:
            raise UsageError(f"the {name} text holds no full block of {config.block_size} tokens; give more text or a smaller --block-size")
    model = build_model(config.model, hf_config, config.seed)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="isoflop-finetune-") as scratch:
        arguments = TrainingArguments(
            output_dir=scratch, learning_rate=config.learning_rate, weight_decay=config.weight_decay,
            num_train_epochs=config.epochs, per_device_train_batch_size=config.batch_size,
            per_device_eval_batch_size=config.batch_size, eval_strategy="epoch", logging_strategy="epoch",
            save_strategy="no", report_to=[], seed=config.seed, data_seed=config.seed, disable_tqdm=not progress,
            dataloader_pin_memory=torch.cuda.is_available(),
        )
        trainer = Trainer(model=model, args=arguments, train_dataset=_Blocks(train), eval_dataset=_Blocks(validation),
                          data_collator=default_data_collator)
        trainer.remove_callback(PrinterCallback)  # the log goes to the record and the summary, not to stdout
        before = trainer.evaluate()["eval_loss"]
        trainer.train()
        after = trainer.evaluate()["eval_loss"]
        history = trainer.state.log_history
    seconds = time.perf_counter() - started
    _save(model, tokenizer, out / MODEL)
    if config.push_to_hub:
        _push(model, tokenizer, config.push_to_hub)
    # train() starts a fresh log: each epoch's evaluation, then the final one.
    epochs = [h["eval_loss"] for h in history if "eval_loss" in h][:-1]
    parameters = count_parameters(hf_config)
    steps = [{"step": 0, "eval_loss": before}] + [
        {"step": h["step"], "train_loss": h.get("loss"), "eval_loss": h.get("eval_loss"), "learning_rate": h.get("learning_rate")}
        for h in history if "eval_loss" in h or "loss" in h
    ]
    per_token = flops_per_token(parameters.non_embedding, architecture(hf_config), config.block_size, "full") \
        if architecture(hf_config) is not None else 6.0 * parameters.non_embedding
    seen = int(round(len(train) * config.epochs))
    save_recipe_run(out, RecipeRun(
        "finetune", config.model_dump(mode="json", exclude={"out", "push_to_hub"}), config.model, parameters.total,
        parameters.non_embedding, per_token, seen * config.block_size, seen, len(train), len(train) * config.block_size,
        _merged(steps), validation, bytes_per_token(tokenizer, validation), seconds, "fp32"))
    return FinetuneResult(out, parameters.total, len(train), len(validation), math.exp(before), math.exp(after),
                          [math.exp(v) for v in epochs], seconds)


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


def _save(model, tokenizer, folder: Path) -> None:
    with atomic_folder(folder) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)


def _push(model, tokenizer, repo: str) -> None:
    from ..hub import ensure_reachable

    ensure_reachable(f"Hub repository {repo!r}", "drop --push-to-hub, or push the saved folder later")
    model.push_to_hub(repo)
    tokenizer.push_to_hub(repo)
