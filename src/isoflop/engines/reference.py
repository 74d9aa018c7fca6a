"""The reference engine: one run at a time with the Hugging Face ``Trainer``.

It is the fidelity baseline: the Trainer's own loop, collator, AdamW, scheduler and
evaluation, with every setting stated from the run's optimizer config (so a change of
defaults in transformers cannot change what is measured). Only the sample order is ours,
so that every engine feeds the same samples in the same order.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator

import torch
from torch.utils.data import SequentialSampler
from transformers import DataCollatorForLanguageModeling, PrinterCallback, Trainer, TrainerCallback, TrainingArguments

from ..data.prepare import PreparedData
from ..hardware import bf16_missing
from ..models.build import build_model, model_config
from ..training.live import LiveCurve
from ..training.optim import trainer_schedule
from .base import NonFiniteLoss, Pack, RunResult, RunSpec, StepCallback, check_finite

CAUSAL_LM_LOSS = "ForCausalLM"


class ReferenceEngine:
    """The HF Trainer, one run at a time: the fidelity baseline every engine is tested against."""

    name = "reference"

    def __init__(self, config):
        self.precision = config.precision
        self.compile = config.options_for(self.name).compile

    def supports(self, models: list[str], vocab_size: int) -> str | None:
        if self.precision == "bf16" and not torch.cuda.is_available() and (missing := bf16_missing()):
            return f"--precision bf16 on the CPU: {missing}; use --precision fp32"
        return None

    def pack_limit(self, pack_run: RunSpec, data: PreparedData, runs: int) -> int:
        return 1  # one run at a time: each result is final, and written, before the next run starts

    def train(self, pack: Pack, data: PreparedData, on_step: StepCallback) -> Iterator[RunResult]:
        logging.getLogger("transformers").setLevel(logging.ERROR)
        try:
            for run in pack.runs:
                yield self._train_one(pack, run, data, on_step)
        finally:
            if self.precision != "fp32":
                _release_mixed_precision()

    def _train_one(self, pack: Pack, run: RunSpec, data: PreparedData, on_step: StepCallback) -> RunResult:
        started = time.perf_counter()
        order = run.sample_order()
        train_rows = [{"input_ids": data.train_chunks[i]} for i in order]
        val_rows = [{"input_ids": chunk} for chunk in data.val_chunks]
        model = build_model(run.model, model_config(run.model, data.vocab_size, run.dropout), run.seed)
        # transformers cannot tell from the name GPT2LMHeadModel that its loss shifts labels, so the
        # Trainer divides the summed loss by all T labels instead of the T-1 predicted ones: every
        # loss (and gradient) would come out scaled by (T-1)/T. Naming the loss type fixes the count.
        model.loss_type = CAUSAL_LM_LOSS
        collator = DataCollatorForLanguageModeling(data.tokenizer, mlm=False)
        with tempfile.TemporaryDirectory(prefix="isoflop-trainer-") as scratch:
            trainer = _OrderedTrainer(
                model=model,
                args=_arguments(run, len(data.val_chunks), scratch, self.precision, self.compile),
                train_dataset=train_rows,
                eval_dataset=val_rows,
                data_collator=collator,
                callbacks=[_StepWatcher(on_step, set(run.eval_steps), pack.live(run))],
            )
            # With tqdm disabled the Trainer prints every log line; the study shows its own progress.
            trainer.remove_callback(PrinterCallback)
            try:
                # Before the first step, on the model as built (train() starts a fresh log history). The evaluation
                # loader draws its base seed from the global generator: restored after, so training draws the same.
                with torch.random.fork_rng(devices=range(torch.cuda.device_count())):
                    initial = float(trainer.evaluate()["eval_loss"])
                trainer.train()
                status, error = "completed", None
            except NonFiniteLoss as failure:
                status, error, initial = "failed", str(failure), None
            if pack.save_models_to is not None:
                trainer.model.save_pretrained(pack.save_models_to / run.key)
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
            initial_val_loss=initial,
        )


def _arguments(run: RunSpec, eval_batch: int, output_dir: str, precision: str, compile_model: bool = False) -> TrainingArguments:
    optimizer = run.optimizer
    return TrainingArguments(
        output_dir=output_dir,
        per_device_train_batch_size=optimizer.batch_size,
        per_device_eval_batch_size=eval_batch,
        learning_rate=optimizer.learning_rate,
        **trainer_schedule(optimizer, run.steps),
        weight_decay=optimizer.weight_decay,
        max_grad_norm=optimizer.max_grad_norm,
        adam_beta1=optimizer.adam_beta1,
        adam_beta2=optimizer.adam_beta2,
        adam_epsilon=optimizer.adam_epsilon,
        # max_steps, not epochs: D need not divide the budget, and every run makes exactly its steps.
        max_steps=run.steps,
        # Evaluation is asked for by the step watcher, at the run's own evaluation steps.
        eval_strategy="no",
        logging_strategy="steps",
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        seed=run.seed,
        data_seed=run.seed,
        disable_tqdm=True,
        dataloader_num_workers=0,
        # Pinning only helps a GPU; on CPU torch warns about it.
        dataloader_pin_memory=torch.cuda.is_available(),
        log_level="error",
        bf16=precision == "bf16",
        # The Trainer takes bf16 on a CPU only when told it trains there.
        use_cpu=precision == "bf16" and not torch.cuda.is_available(),
        torch_compile=compile_model,
        optim="adamw_torch_fused",  # every engine's AdamW (training.optim)
    )


def _release_mixed_precision() -> None:
    """Forget the process-wide Accelerate state the Trainer set up in bf16: otherwise any later Accelerator of this
    process (``isoflop pretrain``, another Trainer in fp32) is refused for asking another precision."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state()


class _OrderedTrainer(Trainer):
    """A Trainer that reads the training set in the order given (ours), not shuffled."""

    def _get_train_sampler(self, train_dataset=None):
        return SequentialSampler(train_dataset if train_dataset is not None else self.train_dataset)


_LOGGED_LOSSES = {"loss": "training loss", "eval_loss": "validation loss"}


class _StepWatcher(TrainerCallback):
    """Advances the progress display, asks for evaluation at the run's steps, stops a non-finite run, and passes each
    logged loss to the run's live curve."""

    def __init__(self, on_step: StepCallback, eval_steps: set[int], live: LiveCurve):
        self.on_step = on_step
        self.eval_steps = eval_steps
        self.live = live

    def on_log(self, args, state, control, logs=None, **kwargs):
        for logged, described in _LOGGED_LOSSES.items():
            if logs and logged in logs:
                check_finite(state.global_step, described, logs[logged])
        if logs and "loss" in logs:
            self.live.train(state.global_step, float(logs["loss"]), float(logs["learning_rate"]))
        if logs and "eval_loss" in logs:
            self.live.validation(state.global_step, float(logs["eval_loss"]))

    def on_step_end(self, args, state, control, **kwargs):
        self.on_step(1)
        if state.global_step in self.eval_steps:
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


ENGINE = ReferenceEngine
