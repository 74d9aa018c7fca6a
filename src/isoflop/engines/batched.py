"""The lock-step batched engine: K independent GPT-2 runs trained as one.

The K members' parameters are stacked into ``[K, ...]`` tensors and the Hugging Face
GPT-2 blocks are run under ``torch.func.vmap``, so every linear layer becomes one
batched matmul over the members while each member keeps its own weights, sample order,
AdamW state, gradient-norm clipping and learning-rate schedule, exactly as the
reference engine's Trainer would give it. Members never interact: the summed loss has
per-member gradients. Members of a pack share their model, steps, optimizer settings and
evaluation steps (the runner packs runs by ``RunSpec.pack_signature``).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call, stack_module_state, vmap

from ..data.prepare import PreparedData
from ..models.build import build_model, count_parameters, model_config
from ..training.checkpoints import PackCheckpoint
from ..training import optim
from .base import Pack, RunResult, RunSpec, StepCallback, not_gpt2

# clip_grad_norm_ adds this to the norm before dividing.
CLIP_EPS = 1e-6
IGNORE_INDEX = -100
# Evaluation logits are computed this many tokens at a time per member, so the
# [K, tokens, vocabulary] tensor never exists whole.
EVAL_TOKEN_CHUNK = 256
# Bytes per parameter per member: weights, gradients and two AdamW moments in fp32.
BYTES_PER_PARAMETER = 16
MEMORY_FRACTION = 0.5
CPU_MAX_MEMBERS = 8
GPU_MAX_MEMBERS = 64


@dataclass
class _Member:
    run: RunSpec
    order: list[int]
    train_loss: list[float]
    val_loss: list[float]
    learning_rate: list[float]
    eval_steps: list[int]
    error: str | None = None
    initial_val_loss: float | None = None


@dataclass
class _Stack:
    """One pack set up for lock-step training: the stacked weights and their optimizer, the data on the device."""

    run: RunSpec  # the pack's first run: every member shares its model, steps and optimizer settings
    config: object
    skeleton: object
    buffers: dict
    tied: bool
    head: torch.Tensor
    trainable: dict[str, torch.Tensor]
    optimizer: object
    members: list[_Member]
    forward: object
    train_chunks: torch.Tensor
    val_batch: torch.Tensor
    pad_id: int
    eval_steps: set[int]


class BatchedEngine:
    """K GPT-2 runs in lock-step: stacked weights under ``vmap``, one AdamW over the stack, per-member clipping."""

    name = "batched"

    def __init__(self, config, device: str | None = None):
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.precision = config.precision
        self.options = config.options_for(self.name)
        self.checkpoint_seconds = config.checkpoint_seconds

    def supports(self, models: list[str], vocab_size: int) -> str | None:
        if self.precision == "bf16" and self.device.type != "cuda":
            return "bf16 needs a CUDA GPU; use --precision fp32 on CPU"
        return not_gpt2(self.name, models, vocab_size)

    def pack_limit(self, pack_run: RunSpec, data: PreparedData, runs: int) -> int:
        """Members per pack: the configured pack size, else what fits in half the free memory, capped."""
        if self.options.pack_size:
            return max(1, min(runs, self.options.pack_size))
        config = model_config(pack_run.model, data.vocab_size, pack_run.dropout)
        parameters = count_parameters(config).total
        activations = 4 * config.vocab_size * (EVAL_TOKEN_CHUNK + pack_run.optimizer.batch_size * data.seq_len) * 3
        per_member = parameters * BYTES_PER_PARAMETER + activations
        if self.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.device)
            cap = GPU_MAX_MEMBERS
        else:
            free = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
            cap = CPU_MAX_MEMBERS
        return max(1, min(runs, cap, int(free * MEMORY_FRACTION // per_member)))

    def train(self, pack: Pack, data: PreparedData, on_step: StepCallback) -> Iterator[RunResult]:
        pending = [pack.runs]
        while pending:
            runs = pending.pop(0)
            checkpoint = PackCheckpoint(pack.checkpoint_dir, [run.key for run in runs], self.checkpoint_seconds)
            try:
                results = self._train_pack(dataclasses.replace(pack, runs=runs), data, on_step, checkpoint)
            except torch.OutOfMemoryError:
                if len(runs) == 1:
                    raise
                # Nothing of this pack was written: split it and train the halves.
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                half = len(runs) // 2
                pending[:0] = [runs[:half], runs[half:]]
                continue
            yield from results
            checkpoint.remove()  # every result of the pack has been taken (and stored) by now

    def _train_pack(self, pack: Pack, data: PreparedData, on_step: StepCallback, checkpoint: PackCheckpoint) -> list[RunResult]:
        started = time.perf_counter()
        stack = self._stack(pack, data)
        first_step, elapsed = _restore(checkpoint.load(self.device), stack.trainable, stack.optimizer, stack.members)
        started -= elapsed
        on_step(first_step * len(stack.members))
        lives = [pack.live(member.run) for member in stack.members]
        if first_step == 0:
            for member, live, loss in zip(stack.members, lives, self._evaluate(stack).tolist()):
                member.initial_val_loss = loss
                live.validation(0, loss)
        for step in range(first_step, pack.first.steps):
            self._step(stack, step)
            _tell(stack.members, lives, step + 1)
            on_step(len(stack.members))  # one step of every member
            if step + 1 < pack.first.steps:
                checkpoint.maybe_save(lambda: _state(step + 1, stack.trainable, stack.optimizer, stack.members,
                                                     time.perf_counter() - started))
        wall = time.perf_counter() - started
        if pack.save_models_to is not None:
            for k, member in enumerate(stack.members):
                unstack_member(stack.config, stack.trainable, stack.buffers, stack.tied, k).save_pretrained(
                    pack.save_models_to / member.run.key)
        return [
            RunResult(key=m.run.key, engine=self.name, status="failed" if m.error else "completed", error=m.error,
                      wall_seconds=wall, pack_runs=len(stack.members), train_loss=m.train_loss, val_loss=m.val_loss,
                      learning_rate=m.learning_rate, eval_steps=m.eval_steps, initial_val_loss=m.initial_val_loss)
            for m in stack.members
        ]

    def _stack(self, pack: Pack, data: PreparedData) -> _Stack:
        """The pack's models stacked for ``vmap``, their optimizer, data on the device, the members' records."""
        first = pack.first
        config = model_config(first.model, data.vocab_size, first.dropout)
        models = [build_model(first.model, config, run.seed).to(self.device) for run in pack.runs]
        skeleton = copy.deepcopy(models[0].transformer).to("meta")
        # Eager attention is plain matmuls, which vmap batches; SDPA would fall back to a loop.
        skeleton.config._attn_implementation = "eager"
        params, buffers = stack_module_state([m.transformer for m in models])
        tied = models[0].get_output_embeddings().weight is models[0].transformer.wte.weight
        head = params["wte.weight"] if tied else torch.stack([m.lm_head.weight.detach() for m in models]).requires_grad_()
        trainable = dict(params) if tied else {**params, "lm_head.weight": head}
        del models
        # Members share the learning rate and schedule of the pack, and AdamW is elementwise, so torch's
        # own AdamW over the stacked tensors is each member's AdamW; only the clipping needs a per-member norm.
        optimizer = optim.adamw(trainable.items(), first.optimizer)
        members = [_Member(run, run.sample_order(), [], [], [], []) for run in pack.runs]
        val_chunks = torch.tensor(data.val_chunks, dtype=torch.long, device=self.device)
        # Dropout draws come from the global generator: seed it from the pack so a pack is reproducible.
        torch.manual_seed(zlib.crc32(",".join(r.key for r in pack.runs).encode()))

        def hidden(p, b, embeds):
            return functional_call(skeleton, (p, b), (), {"inputs_embeds": embeds}).last_hidden_state

        vmapped = vmap(hidden, randomness="different")
        member_index = torch.arange(len(pack.runs), device=self.device).view(-1, 1, 1)

        def forward(ids):
            # Token embeddings are gathered outside vmap: its batched embedding backward is dense and slow.
            return vmapped(params, buffers, params["wte.weight"][member_index, ids])

        return _Stack(first, config, skeleton, buffers, tied, head, trainable, optimizer, members, forward,
                      torch.as_tensor(np.asarray(data.train_chunks, dtype=np.int64), device=self.device),
                      val_chunks.unsqueeze(0).expand(len(pack.runs), -1, -1), data.tokenizer.pad_token_id,
                      set(first.eval_steps))

    def _step(self, stack: _Stack, step: int) -> None:
        """Optimizer step ``step`` (0-based) of every member, evaluated where the run asks for it."""
        run, batch_size = stack.run, stack.run.optimizer.batch_size
        lr = optim.learning_rate(run.optimizer, step, run.steps)
        rows = [m.order[step * batch_size : (step + 1) * batch_size] for m in stack.members]
        batch = stack.train_chunks[torch.tensor(rows, device=self.device)]
        stack.skeleton.train()
        with self._autocast():
            states = stack.forward(batch)
        losses = _member_losses(states, stack.head, batch, stack.pad_id)
        losses.sum().backward()
        val_losses = None
        with torch.no_grad():
            _clip_per_member(stack.trainable, run.optimizer.max_grad_norm)
            optim.set_learning_rate(stack.optimizer, lr)
            stack.optimizer.step()
            stack.optimizer.zero_grad(set_to_none=True)
            if step + 1 in stack.eval_steps:
                val_losses = self._evaluate(stack)
        _record(stack.members, losses.detach(), val_losses, lr, step + 1)

    def _evaluate(self, stack: _Stack) -> torch.Tensor:
        """Every member's validation loss (draws no random numbers)."""
        stack.skeleton.eval()
        with torch.no_grad(), self._autocast():
            val_states = stack.forward(stack.val_batch)
        return _member_losses(val_states, stack.head, stack.val_batch, stack.pad_id, chunk=EVAL_TOKEN_CHUNK)

    def _autocast(self):
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return torch.autocast(self.device.type, enabled=False)


_MEMBER_PROGRESS = ("train_loss", "val_loss", "learning_rate", "eval_steps", "error", "initial_val_loss")


def _state(step: int, trainable, optimizer, members: list[_Member], elapsed: float) -> dict:
    """What a checkpoint holds: the stacked weights, the optimizer state, the global RNG state (dropout) and every
    member's metrics so far."""
    return {
        "step": step,
        "elapsed": elapsed,
        "trainable": {name: tensor.detach() for name, tensor in trainable.items()},
        "optimizer": optimizer.state_dict(),
        "rng": torch.get_rng_state(),
        "members": [{field: getattr(m, field) for field in _MEMBER_PROGRESS} for m in members],
    }


def _restore(state: dict | None, trainable, optimizer, members: list[_Member]) -> tuple[int, float]:
    """Load a saved state into the pack; returns the steps already done and the seconds they took."""
    if state is None:
        return 0, 0.0
    with torch.no_grad():
        for name, tensor in trainable.items():
            tensor.copy_(state["trainable"][name])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
    for member, saved in zip(members, state["members"]):
        for field in _MEMBER_PROGRESS:
            setattr(member, field, saved[field])
    return int(state["step"]), float(state["elapsed"])


def unstack_member(config, trainable, buffers, tied: bool, k: int):
    """Member ``k`` as an ordinary Hugging Face model."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_config(config)
    state = {f"transformer.{n}": p[k].detach().cpu() for n, p in trainable.items() if n != "lm_head.weight"}
    state.update({f"transformer.{n}": b[k].cpu() for n, b in buffers.items()})
    state["lm_head.weight"] = (trainable["wte.weight"] if tied else trainable["lm_head.weight"])[k].detach().cpu()
    model.load_state_dict(state, strict=False)
    return model


def _member_losses(states, head, ids, pad_id: int, chunk: int | None = None) -> torch.Tensor:
    """Mean next-token cross-entropy per member over its labels; EOS/pad labels are ignored (classic collator)."""
    members, batch, length, width = states.shape
    inputs = states[:, :, :-1, :].reshape(members, batch * (length - 1), width)
    labels = ids[:, :, 1:].reshape(members, -1).clone()
    labels[labels == pad_id] = IGNORE_INDEX
    counts = (labels != IGNORE_INDEX).sum(dim=1).clamp(min=1)
    tokens = inputs.shape[1]
    step = chunk or tokens
    total = inputs.new_zeros(members, dtype=torch.float32)
    for start in range(0, tokens, step):
        logits = torch.bmm(inputs[:, start : start + step], head.transpose(1, 2).to(inputs.dtype))
        part = F.cross_entropy(
            logits.float().flatten(0, 1), labels[:, start : start + step].flatten(), ignore_index=IGNORE_INDEX, reduction="none"
        )
        total = total + part.view(members, -1).sum(dim=1)
    return total / counts


def _clip_per_member(trainable: dict[str, torch.Tensor], max_norm: float) -> None:
    """clip_grad_norm_ applied to each member's own gradients."""
    norms = torch.stack([torch.linalg.vector_norm(p.grad.flatten(1), dim=1) for p in trainable.values()])
    coefficients = (max_norm / (torch.linalg.vector_norm(norms, dim=0) + CLIP_EPS)).clamp(max=1.0)
    for p in trainable.values():
        p.grad.mul_(coefficients.view(-1, *([1] * (p.dim() - 1))).to(p.grad.dtype))


def _tell(members: list[_Member], lives: list, step: int) -> None:
    """Each member's numbers of step ``step`` to its live curve (a member that failed has none)."""
    for member, live in zip(members, lives):
        if not member.error and len(member.train_loss) == step:
            live.train(step, member.train_loss[-1], member.learning_rate[-1])
            if member.eval_steps and member.eval_steps[-1] == step:
                live.validation(step, member.val_loss[-1])


def _record(members: list[_Member], train, val, lr: float, step: int) -> None:
    """Append a step's numbers to each member still going; a non-finite loss fails that member alone."""
    for k, member in enumerate(members):
        if member.error:
            continue
        train_k = float(train[k])
        val_k = float(val[k]) if val is not None else None
        if not math.isfinite(train_k):
            member.error = f"training loss is {train_k} at step {step}"
            continue
        if val_k is not None and not math.isfinite(val_k):
            member.error = f"validation loss is {val_k} at step {step}"
            continue
        member.train_loss.append(train_k)
        member.learning_rate.append(lr)
        if val_k is not None:
            member.val_loss.append(val_k)
            member.eval_steps.append(step)


ENGINE = BatchedEngine
