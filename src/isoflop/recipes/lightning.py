"""Pretraining with PyTorch Lightning (``isoflop pretrain --loop lightning``, ``pip install 'isoflop[lightning]'``):
the CodeParrot recipe's other loop, on the same recipe protocol as the Accelerate loop (``recipes.pretrain``).

The same prepared data (``pretrain.prepare``: the packed stream, the fixed validation windows), the
same model and initialisation, the optimizer and schedule of ``training.optim``, the same checkpoint
folder (``checkpoints/step-K``: Lightning's checkpoint, the torch RNG state and the data position),
the same ``metrics.jsonl`` and the same record. A ``LightningDataModule`` serves the stream in
micro-batches; Lightning accumulates them (``accumulate_grad_batches``), clips the global norm and
steps the schedule per optimizer step; the ``LightningModule`` evaluates the validation windows at the
study's evaluation steps (every ``--eval-every`` steps, on ``--eval-samples`` windows) and logs the
loss and perplexity. One process, one device: a multi-device Lightning run would need its own
sharding of the stream.
"""

from __future__ import annotations

import json
import logging
import math
import signal
import time
from pathlib import Path

import lightning as L
import torch

from ..config.recipes import PretrainConfig
from ..errors import UsageError
from ..training import optim
from .base import CheckpointFolder, RecipeResult, append_metrics, save_model
from .pretrain import PretrainData, count_parameters, prepare, record, scheduler_of

# Lightning's names for the precision part's values.
PRECISION = {"fp32": "32-true", "bf16": "bf16-mixed", "fp16": "16-mixed"}
CHECKPOINT_FILE = "lightning.ckpt"
RNG_KEY = "isoflop_torch_rng"


class StreamDataModule(L.LightningDataModule):
    """The packed training stream in micro-batches of ``--batch-size`` windows, in stream order."""

    def __init__(self, data: PretrainData, batch_size: int):
        super().__init__()
        self.data, self.batch_size = data, batch_size

    def train_dataloader(self):
        # Its own generator: a DataLoader draws a base seed when iterated, which must not move the global RNG that
        # dropout draws from (the Accelerate loop iterates the stream without one).
        return torch.utils.data.DataLoader(self.data.train, batch_size=self.batch_size, collate_fn=torch.tensor,
                                           generator=torch.Generator())


class PretrainModule(L.LightningModule):
    """A GPT-2 LM trained on the stream; evaluates, records, checkpoints at the recipe's steps."""

    def __init__(self, config: PretrainConfig, data: PretrainData, folder: CheckpointFolder, model, start: int,
                 consumed: int):
        super().__init__()
        self.config, self.data, self.folder, self.model = config, data, folder, model
        self.done, self.consumed = start, consumed
        self.eval_steps = set(config.evaluation.eval_steps(config.max_steps))
        self.per_step = config.optimizer.batch_size * config.gradient_accumulation
        self.metrics: list[dict] = []
        self.total = 0.0
        self.tokens_done, self.started = 0, time.perf_counter()

    def configure_optimizers(self):
        optimizer = optim.adamw(self.model.named_parameters(), self.config.optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler_of(optimizer, self.config), "interval": "step"}}

    def on_train_start(self) -> None:
        if self.done == 0:
            loss = self.evaluate()
            self.metrics.append({"step": 0, "eval_loss": loss, "perplexity": math.exp(loss)})
        self.started = time.perf_counter()

    def training_step(self, batch, batch_idx):
        loss = self.model(input_ids=batch, labels=batch).loss
        self.total += loss.detach() / self.config.gradient_accumulation
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        step = self.trainer.global_step
        if step == self.done:
            return  # a micro-batch inside an accumulation: no optimizer step yet
        self.done, self.consumed = step, self.consumed + self.per_step
        self.tokens_done += self.per_step * self.config.data.seq_len
        entry = {"step": step, "train_loss": float(self.total),
                 "learning_rate": optim.learning_rate(self.config.optimizer, step, self.config.max_steps)}
        self.total = 0.0
        if step in self.eval_steps:
            loss = self.evaluate()
            entry |= {"eval_loss": loss, "perplexity": math.exp(loss)}
            self.log_dict({"eval_loss": loss, "perplexity": math.exp(loss)}, prog_bar=True)
        entry["tokens_per_second"] = self.tokens_done / max(time.perf_counter() - self.started, 1e-9)
        self.metrics.append(entry)
        self.log("train_loss", entry["train_loss"], prog_bar=True)
        if step % self.config.checkpoint_every == 0 and step < self.config.max_steps:
            self.flush()
            self.folder.save(step, self.consumed, self._save_state, self.trainer.is_global_zero)

    def on_train_end(self) -> None:
        self.flush()

    def evaluate(self) -> float:
        """Mean validation loss over the fixed validation windows, in batches of ``--batch-size``."""
        was_training = self.model.training
        self.model.eval()
        losses, size, windows = [], self.config.optimizer.batch_size, self.data.validation
        with torch.no_grad():
            for start in range(0, len(windows), size):
                batch = torch.tensor(windows[start : start + size], device=self.device)
                losses.append(self.model(input_ids=batch, labels=batch).loss)
        self.model.train(was_training)
        return torch.stack(losses).mean().item()

    def flush(self) -> None:
        append_metrics(self.folder.out, self.metrics, self.trainer.is_global_zero)
        self.metrics = []

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint[RNG_KEY] = torch.get_rng_state()  # dropout's draws continue where they stopped

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        torch.set_rng_state(checkpoint[RNG_KEY])

    def _save_state(self, folder: str) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        self.trainer.save_checkpoint(str(Path(folder) / CHECKPOINT_FILE))


def pretrain(config: PretrainConfig, resume: bool = False, echo=print, progress: bool = True) -> RecipeResult:
    """The Lightning loop of ``isoflop pretrain``: set up (or resume), train to ``max_steps``, save, record."""
    from accelerate.utils import set_seed
    from transformers import GPT2LMHeadModel

    for name in ("lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)  # device and summary banners; our summary says what ran
    folder = CheckpointFolder(Path(config.output), "pretraining")
    checkpoint = folder.starting_point(resume)
    data = prepare(config)
    set_seed(config.seed)
    model = GPT2LMHeadModel(data.model_config)
    parameters, non_embedding = count_parameters(data.model_config)
    start, consumed = folder.position(checkpoint) if checkpoint is not None else (0, 0)
    data.train.skip = consumed
    if checkpoint is not None:
        folder.truncate_metrics(start)
        echo(f"resumed from {checkpoint} (step {start}, {consumed:,} windows consumed)")
    module = PretrainModule(config, data, folder, model, start, consumed)
    trainer = _trainer(config, progress)
    started = time.perf_counter()
    handler = signal.getsignal(signal.SIGINT)
    try:
        trainer.fit(module, datamodule=StreamDataModule(data, config.optimizer.batch_size),
                    ckpt_path=str(checkpoint / CHECKPOINT_FILE) if checkpoint is not None else None)
    except SystemExit:
        # Lightning turns Ctrl-C (and SIGTERM, which the CLI raises as Ctrl-C) into exit(1): give it back, so the
        # command says what the run left and how to resume, as the Accelerate loop does.
        if trainer.interrupted:
            raise KeyboardInterrupt from None
        raise
    finally:
        signal.signal(signal.SIGINT, handler)
    seconds = time.perf_counter() - started
    save_model(module.model, data.tokenizer, folder.out)
    return record(config, data, folder.out, parameters, non_embedding, module.consumed, module.per_step,
                  module.tokens_done, seconds, "lightning", trainer.is_global_zero)


def _trainer(config: PretrainConfig, progress: bool) -> L.Trainer:
    return L.Trainer(
        max_steps=config.max_steps, max_epochs=-1, accumulate_grad_batches=config.gradient_accumulation,
        gradient_clip_val=config.optimizer.max_grad_norm, gradient_clip_algorithm="norm",
        precision=PRECISION[config.precision.precision], devices=1, logger=_loggers(config),
        enable_checkpointing=False, enable_model_summary=False, enable_progress_bar=progress, num_sanity_val_steps=0,
        limit_val_batches=0, default_root_dir=config.output,
    )


def _loggers(config: PretrainConfig):
    """``--report-to`` as Lightning loggers (each package must be installed)."""
    from accelerate.utils import is_mlflow_available, is_tensorboard_available, is_wandb_available

    available = {"tensorboard": is_tensorboard_available, "wandb": is_wandb_available, "mlflow": is_mlflow_available}
    loggers = []
    for tracker in config.report_to:
        if not available[tracker]():
            raise UsageError(f"--report-to {tracker}: its package is not installed; pip install {tracker}, or drop it")
        if tracker == "tensorboard":
            loggers.append(L.pytorch.loggers.TensorBoardLogger(config.output, name="isoflop-pretrain"))
        elif tracker == "wandb":
            loggers.append(L.pytorch.loggers.WandbLogger(project="isoflop-pretrain", save_dir=config.output,
                                                         config=json.loads(config.model_dump_json())))
        else:
            loggers.append(L.pytorch.loggers.MLFlowLogger(experiment_name="isoflop-pretrain"))
    return loggers or False
