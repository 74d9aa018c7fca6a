"""The fast engine: one GPT-2 run at a time in a plain PyTorch loop, for small machines.

What a small GPT-2 spends its time on is the tied LM head over a large vocabulary,
mostly in the evaluation after every step. This engine computes the head and its
cross-entropy in vocabulary chunks outside autograd (``training.head_loss``, with a small C
kernel for the log-sum-exp and softmax), so the logits never exist whole and are never
kept for backward; the transformer blocks run through
Hugging Face's own GPT-2 code (its tanh GELU as PyTorch's one fused kernel). Everything else is the Trainer's recipe, stated from the
run's optimizer config: AdamW (fused) on the Trainer's parameter groups, global-norm
clipping, warmup then linear or cosine decay, evaluation at the run's steps.

Dropout draws come from a generator seeded by the run's seed, so a run's numbers depend
on nothing else; with dropout 0 they equal the reference engine's to 1e-4 per step.
It trains single-threaded; parallelism comes from the executor (one worker process per core).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import torch

from ..data.order import sample_order
from ..data.prepare import PreparedData
from ..models.build import build_model, model_config
from ..training import kernels
from ..training.checkpoints import PackCheckpoint
from ..training.head_loss import IGNORE_INDEX, head_cross_entropy, head_cross_entropy_eval
from ..training import optim
from .base import NonFiniteLoss, Pack, RunResult, RunSpec, StepCallback, check_finite, not_gpt2


class FastEngine:
    """One GPT-2 run at a time on the CPU, single-threaded, the LM head and its loss in chunks outside autograd."""

    name = "fast"

    def __init__(self, config):
        self.precision = config.precision
        self.checkpoint_seconds = config.checkpoint_seconds
        self.device = torch.device("cpu")

    def supports(self, models: list[str], vocab_size: int) -> str | None:
        if torch.cuda.is_available():
            return "on a GPU the batched engine is the fast one; the fast engine is for CPUs"
        if self.precision != "fp32":
            return "the fast engine trains in fp32 on the CPU; use the batched engine for bf16 on a GPU"
        return not_gpt2(self.name, models, vocab_size)

    def provenance(self) -> dict[str, str]:
        return {"head_kernel": kernels.describe()}

    def pack_limit(self, pack_run: RunSpec, data: PreparedData, runs: int) -> int:
        return 1  # one run per pack: each is written as soon as it ends; processes give the parallelism

    def train(self, pack: Pack, data: PreparedData, on_step: StepCallback) -> Iterator[RunResult]:
        # One thread wherever it runs (this process, a worker, a Ray task): reductions in the same order, so the
        # same numbers on every executor; parallelism comes from running packs side by side.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for run in pack.runs:
                checkpoint = PackCheckpoint(pack.checkpoint_dir, [run.key], self.checkpoint_seconds)
                yield self._train_one(pack, run, data, on_step, checkpoint)
                checkpoint.remove()  # the result has been taken (and stored) by now
        finally:
            torch.set_num_threads(threads)

    def _train_one(self, pack: Pack, run: RunSpec, data: PreparedData, on_step: StepCallback,
                   checkpoint: PackCheckpoint) -> RunResult:
        started = time.perf_counter()
        optimizer_config = run.optimizer
        config = model_config(run.model, data.vocab_size, run.dropout)
        model = build_model(run.model, config, run.seed)
        _fuse_activation(model)
        head = model.get_output_embeddings().weight
        optimizer = optim.adamw(model.named_parameters(), optimizer_config)
        parameters = [p for group in optimizer.param_groups for p in group["params"]]
        train_chunks = torch.tensor(data.train_chunks, dtype=torch.long)
        val_ids = torch.tensor(data.val_chunks, dtype=torch.long)
        val_labels = _labels(val_ids, data.tokenizer.pad_token_id)
        order = sample_order(run.unique_samples, run.passes, run.seed)
        batch_size, steps = optimizer_config.batch_size, run.steps
        eval_steps = set(run.eval_steps)
        # Dropout masks from the run's own seed: its numbers depend on nothing else in the process.
        torch.manual_seed(run.seed)
        metrics = {"train_loss": [], "val_loss": [], "learning_rate": [], "eval_steps": [], "initial_val_loss": None}
        first_step, elapsed = _restore(checkpoint.load(self.device), model, optimizer, metrics)
        started -= elapsed
        on_step(first_step)

        def evaluate(step: int) -> float:
            model.eval()
            with torch.no_grad():
                val_hidden = model.transformer(input_ids=val_ids).last_hidden_state
            value = head_cross_entropy_eval(_shifted(val_hidden), head, val_labels)
            check_finite(step, "validation loss", value)
            return value

        train_loss, val_loss, learning_rate, evaluated = (metrics[name] for name in _PROGRESS)
        status, error = "completed", None
        try:
            if first_step == 0:
                metrics["initial_val_loss"] = evaluate(0)  # draws no random numbers: the run's numbers stay the same
            for step in range(first_step, steps):
                lr = optim.learning_rate(optimizer_config, step, steps)
                ids = train_chunks[order[step * batch_size : (step + 1) * batch_size]]
                model.train()
                hidden = model.transformer(input_ids=ids).last_hidden_state
                loss = head_cross_entropy(_shifted(hidden), head, _labels(ids, data.tokenizer.pad_token_id))
                loss.backward()
                torch.nn.utils.clip_grad_norm_(parameters, optimizer_config.max_grad_norm)
                optim.set_learning_rate(optimizer, lr)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                value = float(loss.detach())
                check_finite(step + 1, "training loss", value)
                train_loss.append(value)
                learning_rate.append(lr)
                if step + 1 in eval_steps:
                    val_loss.append(evaluate(step + 1))
                    evaluated.append(step + 1)
                on_step(1)
                if step + 1 < steps:
                    checkpoint.maybe_save(lambda: _state(step + 1, model, optimizer, metrics, time.perf_counter() - started))
        except NonFiniteLoss as failure:
            status, error = "failed", str(failure)
        if pack.save_models_to is not None:
            model.save_pretrained(pack.save_models_to / run.key)
        return RunResult(
            key=run.key, engine=self.name, status=status, error=error, wall_seconds=time.perf_counter() - started,
            train_loss=train_loss, val_loss=val_loss, learning_rate=learning_rate, eval_steps=evaluated,
            initial_val_loss=metrics["initial_val_loss"],
        )


_PROGRESS = ("train_loss", "val_loss", "learning_rate", "eval_steps")


def _state(step: int, model, optimizer, metrics: dict[str, list], elapsed: float) -> dict:
    """What a run's checkpoint holds: weights, optimizer state, the RNG state (dropout) and the metrics so far."""
    return {"step": step, "elapsed": elapsed, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "rng": torch.get_rng_state(), "metrics": metrics}


def _restore(state: dict | None, model, optimizer, metrics: dict[str, list]) -> tuple[int, float]:
    """Load a saved state into the run; returns the steps already done and the seconds they took."""
    if state is None:
        return 0, 0.0
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
    metrics.update(state["metrics"])
    return int(state["step"]), float(state["elapsed"])


def _fuse_activation(model) -> None:
    """GPT-2's tanh GELU (``gelu_new``: eight elementwise ops, each a pass over memory) as PyTorch's one-kernel
    ``gelu(approximate="tanh")``, the same function (within 5e-7); 15 % of a 100k model's step on the CPU."""
    from transformers.activations import ACT2FN, NewGELUActivation

    for block in model.transformer.h:
        if isinstance(block.mlp.act, NewGELUActivation):
            block.mlp.act = ACT2FN["gelu_pytorch_tanh"]


def _shifted(hidden: torch.Tensor) -> torch.Tensor:
    """Hidden states that predict a next token: all but each sample's last, as rows."""
    return hidden[:, :-1, :].reshape(-1, hidden.shape[-1])


def _labels(ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Next-token labels, pad (= EOS) labels ignored as the classic collator does."""
    labels = ids[:, 1:].reshape(-1).clone()
    labels[labels == pad_id] = IGNORE_INDEX
    return labels


ENGINE = FastEngine
