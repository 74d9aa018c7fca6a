"""The reference engine: one run at a time with the Hugging Face ``Trainer``.

It is the fidelity baseline: the classic protocol's arguments (AdamW, linear decay to
0, no warmup, grad-norm clip 1.0, evaluation after every step) with the Trainer's own
loop, collator and evaluation. Only the sample order is ours, so that every engine
feeds the same samples in the same order.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator

import torch
from torch.utils.data import SequentialSampler
from transformers import DataCollatorForLanguageModeling, PrinterCallback, Trainer, TrainerCallback, TrainingArguments

from ..errors import UsageError
from ..models import build_model
from ..sampling import sample_order
from .base import NonFiniteLoss, RunRequest, RunResult, StepCallback, TrainingSetup, check_finite

# The classic exercise leaves these at the Trainer's defaults; we state them so a change
# of defaults in transformers cannot change what is measured.
WEIGHT_DECAY = 0.0
MAX_GRAD_NORM = 1.0
CAUSAL_LM_LOSS = "ForCausalLM"


class ReferenceEngine:
    name = "reference"

    def __init__(self, precision: str = "fp32"):
        if precision == "bf16" and not torch.cuda.is_available():
            raise UsageError("--precision bf16 needs a CUDA GPU; use --precision fp32 on CPU")
        self.precision = precision

    def train(self, setup: TrainingSetup, runs: list[RunRequest], on_step: StepCallback) -> Iterator[RunResult]:
        logging.getLogger("transformers").setLevel(logging.ERROR)
        for run in runs:
            yield self._train_one(setup, run, on_step)

    def _train_one(self, setup: TrainingSetup, run: RunRequest, on_step: StepCallback) -> RunResult:
        started = time.perf_counter()
        order = sample_order(run.unique_samples, setup.budget.passes, run.seed)
        train_rows = [{"input_ids": setup.train_chunks[i]} for i in order]
        val_rows = [{"input_ids": chunk} for chunk in setup.val_chunks]
        model = build_model(setup.model, setup.model_config, run.seed)
        # transformers cannot tell from the name GPT2LMHeadModel that its loss shifts labels, so the
        # Trainer divides the summed loss by all T labels instead of the T-1 predicted ones: every
        # loss (and gradient) would come out scaled by (T-1)/T. Naming the loss type fixes the count.
        model.loss_type = CAUSAL_LM_LOSS
        collator = DataCollatorForLanguageModeling(setup.tokenizer, mlm=False)
        with tempfile.TemporaryDirectory(prefix="isoflop-trainer-") as scratch:
            trainer = _OrderedTrainer(
                model=model,
                args=_arguments(setup, run.seed, scratch, self.precision),
                train_dataset=train_rows,
                eval_dataset=val_rows,
                data_collator=collator,
                callbacks=[_StepWatcher(on_step)],
            )
            # With tqdm disabled the Trainer prints every log line; the study shows its own progress.
            trainer.remove_callback(PrinterCallback)
            try:
                trainer.train()
                status, error = "completed", None
            except NonFiniteLoss as failure:
                status, error = "failed", str(failure)
            if setup.save_models_to is not None:
                trainer.model.save_pretrained(setup.save_models_to / run.key)
        train_loss, learning_rate, eval_steps, val_loss = _per_step(trainer.state.log_history)
        return RunResult(
            key=run.key,
            engine=self.name,
            status=status,
            error=error,
            wall_seconds=time.perf_counter() - started,
            train_loss=train_loss,
            val_loss=val_loss,
            learning_rate=learning_rate,
            eval_steps=eval_steps,
        )


def _arguments(setup: TrainingSetup, seed: int, output_dir: str, precision: str) -> TrainingArguments:
    return TrainingArguments(
        output_dir=output_dir,
        per_device_train_batch_size=setup.budget.batch_size,
        per_device_eval_batch_size=len(setup.val_chunks),
        learning_rate=setup.learning_rate,
        lr_scheduler_type=setup.schedule,
        warmup_steps=setup.warmup_steps,
        weight_decay=WEIGHT_DECAY,
        max_grad_norm=MAX_GRAD_NORM,
        # max_steps, not epochs: D need not divide the budget, and every run makes exactly C steps.
        max_steps=setup.budget.steps,
        eval_strategy="steps",
        eval_steps=setup.eval_every,
        logging_strategy="steps",
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        seed=seed,
        data_seed=seed,
        disable_tqdm=True,
        dataloader_num_workers=0,
        # Pinning only helps a GPU; on CPU torch warns about it.
        dataloader_pin_memory=torch.cuda.is_available(),
        log_level="error",
        bf16=precision == "bf16",
    )


class _OrderedTrainer(Trainer):
    """A Trainer that reads the training set in the order given (ours), not shuffled."""

    def _get_train_sampler(self, train_dataset=None):
        return SequentialSampler(train_dataset if train_dataset is not None else self.train_dataset)


_LOGGED_LOSSES = {"loss": "training loss", "eval_loss": "validation loss"}


class _StepWatcher(TrainerCallback):
    """Advances the progress display and stops a run whose loss is no longer finite."""

    def __init__(self, on_step: StepCallback):
        self.on_step = on_step

    def on_log(self, args, state, control, logs=None, **kwargs):
        for logged, described in _LOGGED_LOSSES.items():
            if logs and logged in logs:
                check_finite(state.global_step, described, logs[logged])

    def on_step_end(self, args, state, control, **kwargs):
        self.on_step(1)
        # The curve must end with the final model, whatever the evaluation interval.
        if state.global_step == state.max_steps:
            control.should_evaluate = True


def _per_step(log_history: list[dict]) -> tuple[list[float], list[float], list[int], list[float]]:
    """Training loss and learning rate per step; validation loss per evaluated step."""
    train, learning_rate, val = {}, {}, {}
    for entry in log_history:
        step = entry.get("step")
        if "loss" in entry:
            train[step] = float(entry["loss"])
            learning_rate[step] = float(entry["learning_rate"])
        if "eval_loss" in entry:
            val[step] = float(entry["eval_loss"])
    steps = sorted(train)
    evaluated = sorted(val)
    return [train[s] for s in steps], [learning_rate[s] for s in steps], evaluated, [val[s] for s in evaluated]
