"""The fast engine: one GPT-2 run at a time in a plain PyTorch loop, for small machines.

What a small GPT-2 spends its time on is the tied LM head over a large vocabulary,
mostly in the evaluation after every step. This engine computes the head and its
cross-entropy in vocabulary chunks outside autograd (``training.head_loss``, with a small C
kernel for the log-sum-exp and softmax), so the logits never exist whole and are never
kept for backward; the transformer blocks run through
Hugging Face's own GPT-2 code (its tanh GELU as PyTorch's one fused kernel). Everything else is the Trainer's recipe, stated from the
run's optimizer config: AdamW (fused) on the Trainer's parameter groups, global-norm
clipping, warmup then linear, cosine or warmup-stable-decay, evaluation at the run's steps.

Dropout draws come from a generator seeded by the run's seed, so a run's numbers depend
on nothing else; with dropout 0 they equal the reference engine's to 1e-4 per step.
It trains single-threaded; parallelism comes from the executor (one worker process per core).

The wsd runs of one trunk (an isoFLOP study's budgets of one size and seed) are one pack: the
trunk is trained once at the peak rate, each run cools down from a copy of it at its branch step
(``training.trunks``), with the numbers of the run trained alone, bit for bit.

``--precision bf16`` (a CPU with avx512_bf16 or amx_bf16): the blocks run under autocast and the
head's products multiply bf16 copies, as the Trainer's bf16 does; weights, AdamW state and the
loss stay fp32 (GPT-2's GELU is then left unfused, rounding where the Trainer's does).
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable, Iterator

import numpy as np
import torch

from ..data.prepare import PreparedData
from ..models.build import build_model, model_config
from ..hardware import bf16_missing
from ..training import kernels
from ..training.checkpoints import PackCheckpoint
from ..training.trunks import TrunkMetrics, TrunkStates, trunk_position
from ..training.head_loss import IGNORE_INDEX, head_cross_entropy, head_cross_entropy_eval
from ..training import optim
from .base import NonFiniteLoss, Pack, RunResult, RunSpec, StepCallback, check_finite


class FastEngine:
    """One run at a time on the CPU, single-threaded, the LM head and its loss in chunks outside autograd; any causal LM
    whose body (``base_model``) gives the hidden states its head reads (GPT-2, Llama, Qwen3, ...)."""

    name = "fast"
    branches = True  # trains the wsd runs of one trunk from one shared trunk (``training.trunks``)

    def __init__(self, config):
        self.precision = config.precision
        self.checkpoint_seconds = config.checkpoint_seconds
        self.device = torch.device("cpu")

    def supports(self, models: list[str], vocab_size: int) -> str | None:
        if torch.cuda.is_available():
            return "on a GPU the batched engine is the fast one; the fast engine is for CPUs"
        if self.precision == "bf16" and (missing := bf16_missing()):
            return f"--precision bf16 on the CPU: {missing}; use --precision fp32"
        return None

    def provenance(self) -> dict[str, str]:
        return {"head_kernel": kernels.describe()}

    def pack_limit(self, pack_run: RunSpec, data: PreparedData, runs: int) -> int:
        # One run per pack (each is written as soon as it ends; processes give the parallelism), or a whole trunk.
        return runs if pack_run.trunk is not None else 1

    def train(self, pack: Pack, data: PreparedData, on_step: StepCallback) -> Iterator[RunResult]:
        # One thread wherever it runs (this process, a worker, a Ray task): reductions in the same order, so the
        # same numbers on every executor; parallelism comes from running packs side by side.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            if pack.first.trunk is not None:
                yield from self._train_trunk(pack, data, on_step)
                return
            for run in pack.runs:
                checkpoint = PackCheckpoint(pack.checkpoint_dir, [run.key], self.checkpoint_seconds)
                yield self._train_one(pack, run, data, on_step, checkpoint)
                checkpoint.remove()  # the result has been taken (and stored) by now
        finally:
            torch.set_num_threads(threads)

    def _train_one(self, pack: Pack, run: RunSpec, data: PreparedData, on_step: StepCallback,
                   checkpoint: PackCheckpoint) -> RunResult:
        started = time.perf_counter()
        loop = _Loop(run, data, self.device, self.precision)
        order = run.sample_order()
        metrics = {"train_loss": [], "val_loss": [], "learning_rate": [], "eval_steps": [], "initial_val_loss": None}
        first_step, elapsed = _restore(checkpoint.load(self.device), loop, metrics)
        started -= elapsed
        on_step(first_step)
        train_loss, val_loss, learning_rate, evaluated = (metrics[name] for name in _PROGRESS)
        curve = _Curve(train_loss, learning_rate, val_loss, evaluated, pack.live(run))
        status, error = "completed", None

        def save(step: int) -> None:
            if step < run.steps:
                checkpoint.maybe_save(lambda: loop.state(step, metrics, time.perf_counter() - started))

        try:
            if first_step == 0:
                metrics["initial_val_loss"] = loop.evaluate(0)  # draws no random numbers: the run's numbers stay the same
                curve.live.validation(0, metrics["initial_val_loss"])
            _steps(loop, run, order, range(first_step, run.steps), set(run.eval_steps), curve, on_step, save)
        except NonFiniteLoss as failure:
            status, error = "failed", str(failure)
        if pack.save_models_to is not None:
            loop.model.save_pretrained(pack.save_models_to / run.key)
        return RunResult(
            key=run.key, engine=self.name, status=status, error=error, wall_seconds=time.perf_counter() - started,
            train_loss=train_loss, val_loss=val_loss, learning_rate=learning_rate, eval_steps=evaluated,
            initial_val_loss=metrics["initial_val_loss"],
        )

    def _train_trunk(self, pack: Pack, data: PreparedData, on_step: StepCallback) -> Iterator[RunResult]:
        """The runs of one wsd trunk, shortest branch first: the trunk trains at the peak rate to each run's branch
        step (saved there), the run cools down from a copy, and the trunk goes on from where it was."""
        runs = sorted(pack.runs, key=lambda run: (run.branch_step, run.steps))
        first = runs[0]
        states = TrunkStates(pack.trunk_dir, first.trunk, lambda step: data.run_fingerprint(
            dataclasses.replace(first, steps=max(step, 1)).data_span))
        loop = _Loop(first, data, self.device, self.precision)
        trunk = TrunkMetrics()
        # Every step at which some run of the pack is evaluated on the trunk (before or at its branch).
        trunk_evals = {step for run in runs for step in run.eval_steps if step <= run.branch_step}
        position, failure = None, None
        for run in runs:
            started = time.perf_counter()
            branch = run.branch_step
            position = trunk_position(states, branch, run, position, loop, trunk, self.device)
            start, reached = position, [position]
            try:
                if failure is not None:
                    raise failure
                if trunk.initial is None:
                    trunk.initial = loop.evaluate(0)
                if position in trunk_evals and position not in trunk.val:
                    trunk.val[position] = loop.evaluate(position)
                order = run.sample_order()
                _steps(loop, run, order, range(position, branch), trunk_evals, trunk, on_step, reached.append)
                position = reached[-1]
                computed = position - start
                on_step(branch - computed)  # the steps it shares with the trunk, trained before
                states.save(branch, loop.state(branch, trunk.as_state(), 0.0))
                result = self._cool_down(pack, run, loop, trunk, order, on_step)
                result.trained_steps = computed + run.steps - branch
            except NonFiniteLoss as error:  # in the trunk: this run and every later branch fail with it
                failure, position = error, reached[-1]
                result = RunResult(key=run.key, engine=self.name, status="failed", error=str(error), wall_seconds=0.0,
                                   trained_steps=position - start)
            result.wall_seconds = time.perf_counter() - started
            yield result

    def _cool_down(self, pack: Pack, run: RunSpec, loop: _Loop, trunk: TrunkMetrics, order: list[int],
                   on_step: StepCallback) -> RunResult:
        """Run ``run``'s cooldown from the trunk at its branch step on a copy; the trunk is left as it was."""
        branch = run.branch_step
        saved = copy.deepcopy(loop.state(branch, {}, 0.0))
        train_loss, learning_rate = trunk.train_loss[:branch], trunk.learning_rate[:branch]
        evaluated = [step for step in run.eval_steps if step <= branch]
        val_loss = [trunk.val[step] for step in evaluated]
        curve = _Curve(train_loss, learning_rate, val_loss, evaluated, pack.live(run))
        curve.shared(trunk.initial)  # the steps it shares with the trunk, to its live curve at once
        status, error = "completed", None
        try:
            _steps(loop, run, order, range(branch, run.steps), set(run.eval_steps), curve, on_step)
        except NonFiniteLoss as failure:
            status, error = "failed", str(failure)
        if pack.save_models_to is not None:
            loop.model.save_pretrained(pack.save_models_to / run.key)
        loop.load(saved)
        return RunResult(
            key=run.key, engine=self.name, status=status, error=error, wall_seconds=0.0, train_loss=train_loss,
            val_loss=val_loss, learning_rate=learning_rate, eval_steps=evaluated, initial_val_loss=trunk.initial,
        )


class _Loop:
    """One model in training: its weights, AdamW, the data as tensors, one optimizer step and one evaluation."""

    def __init__(self, run: RunSpec, data: PreparedData, device, precision: str):
        config = model_config(run.model, data.vocab_size, run.dropout)
        self.model = build_model(run.model, config, run.seed)
        if precision == "fp32":  # in bf16 the Trainer's eight elementwise ops round eight times: kept as they are
            _fuse_activation(self.model)
        self.head = self.model.get_output_embeddings().weight
        self.optimizer = optim.adamw(self.model.named_parameters(), run.optimizer)
        self.parameters = [p for group in self.optimizer.param_groups for p in group["params"]]
        self.pad_id = data.tokenizer.pad_token_id
        self.train_chunks = torch.as_tensor(np.asarray(data.train_chunks, dtype=np.int64))
        self.val_ids = torch.tensor(data.val_chunks, dtype=torch.long)
        self.val_labels = _labels(self.val_ids, self.pad_id)
        # bf16: the blocks' products under autocast (weights, AdamW state and losses stay fp32), the head's in bf16 too.
        self.bf16 = precision == "bf16"
        # Dropout masks from the run's own seed: its numbers depend on nothing else in the process.
        torch.manual_seed(run.seed)

    def evaluate(self, step: int) -> float:
        """The validation loss now (draws no random numbers)."""
        self.model.eval()
        with torch.no_grad(), self._autocast():
            val_hidden = self.model.base_model(input_ids=self.val_ids).last_hidden_state
        value = head_cross_entropy_eval(_shifted(val_hidden).float(), self.head, self.val_labels, self.bf16)
        check_finite(step, "validation loss", value)
        return value

    def train_step(self, run: RunSpec, step: int, order: list[int]) -> tuple[float, float]:
        """Optimizer step ``step`` (0-based) of ``run``: its training loss and learning rate."""
        optimizer_config = run.optimizer
        batch_size = optimizer_config.batch_size
        lr = optim.learning_rate(optimizer_config, step, run.steps)
        ids = self.train_chunks[order[step * batch_size : (step + 1) * batch_size]]
        self.model.train()
        with self._autocast():
            hidden = self.model.base_model(input_ids=ids).last_hidden_state
        loss = head_cross_entropy(_shifted(hidden).float(), self.head, _labels(ids, self.pad_id), self.bf16)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.parameters, optimizer_config.max_grad_norm)
        optim.set_learning_rate(self.optimizer, lr)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        value = float(loss.detach())
        check_finite(step + 1, "training loss", value)
        return value, lr

    def _autocast(self):
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16)

    def state(self, step: int, metrics: dict, elapsed: float) -> dict:
        """What a checkpoint holds: weights, optimizer state, the RNG state (dropout) and the metrics so far."""
        return {"step": step, "elapsed": elapsed, "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(), "rng": torch.get_rng_state(), "metrics": metrics}

    def load(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])

    def restart(self, first: RunSpec) -> None:
        """Back to the start of ``first``'s trunk: the seed's initial weights, a fresh AdamW, the seed's dropout draws."""
        self.model.load_state_dict(build_model(first.model, self.model.config, first.seed).state_dict())
        self.optimizer.state.clear()
        torch.manual_seed(first.seed)


_PROGRESS = ("train_loss", "val_loss", "learning_rate", "eval_steps")


def _steps(loop: _Loop, run: RunSpec, order: list[int], steps: range, eval_steps: set[int], curve, on_step: StepCallback,
           after: Callable[[int], None] | None = None) -> None:
    """The one step loop of every run (plain, trunk, cooldown): each optimizer step of ``steps`` trained, its loss and
    rate given to ``curve``, the validation loss where ``eval_steps`` asks, progress reported, then ``after(step)``."""
    for step in steps:
        loss, lr = loop.train_step(run, step, order)
        curve.train(step + 1, loss, lr)
        if step + 1 in eval_steps:
            curve.validation(step + 1, loop.evaluate(step + 1))
        on_step(1)
        if after is not None:
            after(step + 1)


class _Curve:
    """A run's measurements as it trains: the result's lists, and its live curve for the trackers."""

    def __init__(self, train_loss: list, learning_rate: list, val_loss: list, evaluated: list, live):
        self.train_loss, self.learning_rate, self.val_loss, self.evaluated, self.live = (
            train_loss, learning_rate, val_loss, evaluated, live)

    def train(self, step: int, loss: float, lr: float) -> None:
        self.train_loss.append(loss)
        self.learning_rate.append(lr)
        self.live.train(step, loss, lr)

    def validation(self, step: int, loss: float) -> None:
        self.val_loss.append(loss)
        self.evaluated.append(step)
        self.live.validation(step, loss)

    def shared(self, initial: float | None) -> None:
        """What a cooldown's run took from its trunk, to its live curve at once."""
        if initial is not None:
            self.live.validation(0, initial)
        for step, (loss, lr) in enumerate(zip(self.train_loss, self.learning_rate), start=1):
            self.live.train(step, loss, lr)
        for step, loss in zip(self.evaluated, self.val_loss):
            self.live.validation(step, loss)


def _restore(state: dict | None, loop: _Loop, metrics: dict[str, list]) -> tuple[int, float]:
    """Load a saved state into the run; returns the steps already done and the seconds they took."""
    if state is None:
        return 0, 0.0
    loop.load(state)
    metrics.update(state["metrics"])
    return int(state["step"]), float(state["elapsed"])


def _fuse_activation(model) -> None:
    """GPT-2's tanh GELU (``gelu_new``: eight elementwise ops, each a pass over memory) as PyTorch's one-kernel
    ``gelu(approximate="tanh")``, the same function (within 5e-7); 15 % of a 100k model's step on the CPU."""
    from transformers.activations import ACT2FN, NewGELUActivation

    if model.config.model_type != "gpt2":
        return
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
