"""The lock-step batched engine: K independent GPT-2 runs trained as one.

The K members' parameters are stacked into ``[K, ...]`` tensors and the Hugging Face
GPT-2 blocks are run under ``torch.func.vmap``, so every linear layer becomes one
batched matmul over the members while each member keeps its own weights, sample order,
AdamW state, gradient-norm clipping and learning-rate schedule, exactly as the
reference engine's Trainer would give it. Members never interact: the summed loss has
per-member gradients.
"""

from __future__ import annotations

import copy
import math
import os
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.func import functional_call, stack_module_state, vmap

from ..errors import UsageError
from ..models import build_model
from ..sampling import sample_order
from .base import RunRequest, RunResult, StepCallback, TrainingSetup
from .reference import MAX_GRAD_NORM, WEIGHT_DECAY

# torch.optim.AdamW's defaults, which the Trainer uses.
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
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


def supports(model_config) -> bool:
    """The batched engine knows GPT-2-family models (token + position embeddings, tied LM head)."""
    return getattr(model_config, "model_type", None) == "gpt2"


@dataclass
class _Member:
    run: RunRequest
    order: list[int]
    train_loss: list[float]
    val_loss: list[float]
    learning_rate: list[float]
    error: str | None = None


class BatchedEngine:
    name = "batched"

    def __init__(self, precision: str = "fp32", max_members: int | None = None, device: str | None = None):
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if precision == "bf16" and self.device.type != "cuda":
            raise UsageError("--precision bf16 needs a CUDA GPU; use --precision fp32 on CPU")
        self.precision = precision
        self.max_members = max_members

    def train(self, setup: TrainingSetup, runs: list[RunRequest], on_step: StepCallback) -> Iterator[RunResult]:
        if (setup.schedule, setup.warmup_steps, setup.eval_every) != ("linear", 0, 1):
            raise UsageError("the batched engine runs the classic schedule (linear, no warmup, eval every step); use --engine reference")
        if not supports(setup.model_config):
            raise UsageError(
                f"the batched engine trains GPT-2-family models, not {getattr(setup.model_config, 'model_type', '?')!r}; "
                "use --engine reference"
            )
        size = self.pack_size(setup, len(runs))
        pending = [runs[i : i + size] for i in range(0, len(runs), size)]
        while pending:
            pack = pending.pop(0)
            try:
                results = self._train_pack(setup, pack, on_step)
            except torch.OutOfMemoryError:
                if len(pack) == 1:
                    raise
                # Nothing of this pack was written: split it and train the halves.
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                half = len(pack) // 2
                pending[:0] = [pack[:half], pack[half:]]
                continue
            yield from results

    def pack_size(self, setup: TrainingSetup, runs: int) -> int:
        """Members per pack: what fits in half the free memory, capped."""
        if self.max_members:
            return max(1, min(runs, self.max_members))
        parameters = _parameter_estimate(setup.model_config)
        activations = 4 * setup.model_config.vocab_size * (EVAL_TOKEN_CHUNK + setup.budget.batch_size * setup.budget.seq_len) * 3
        per_member = parameters * BYTES_PER_PARAMETER + activations
        if self.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.device)
            cap = GPU_MAX_MEMBERS
        else:
            free = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
            cap = CPU_MAX_MEMBERS
        return max(1, min(runs, cap, int(free * MEMORY_FRACTION // per_member)))

    def _train_pack(self, setup: TrainingSetup, pack: list[RunRequest], on_step: StepCallback) -> list[RunResult]:
        started = time.perf_counter()
        budget = setup.budget
        models = [build_model(setup.model, setup.model_config, run.seed).to(self.device) for run in pack]
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
        optimizer = torch.optim.AdamW(
            list(trainable.values()), lr=setup.learning_rate, betas=ADAM_BETAS, eps=ADAM_EPS, weight_decay=WEIGHT_DECAY,
            fused=True,  # the Trainer's default optimizer is adamw_torch_fused
        )
        members = [_Member(run, sample_order(run.unique_samples, budget.passes, run.seed), [], [], []) for run in pack]
        train_chunks = torch.tensor(setup.train_chunks, dtype=torch.long, device=self.device)
        val_chunks = torch.tensor(setup.val_chunks, dtype=torch.long, device=self.device)
        val_batch = val_chunks.unsqueeze(0).expand(len(pack), -1, -1)
        pad_id = setup.tokenizer.pad_token_id
        # Dropout draws come from the global generator: seed it from the pack so a pack is reproducible.
        torch.manual_seed(zlib.crc32(",".join(r.key for r in pack).encode()))

        def hidden(p, b, embeds):
            return functional_call(skeleton, (p, b), (), {"inputs_embeds": embeds}).last_hidden_state

        vmapped = vmap(hidden, randomness="different")
        member_index = torch.arange(len(pack), device=self.device).view(-1, 1, 1)

        def forward(ids):
            # Token embeddings are gathered outside vmap: its batched embedding backward is dense and slow.
            return vmapped(params, buffers, params["wte.weight"][member_index, ids])
        for step in range(budget.steps):
            lr = setup.learning_rate * _linear_factor(step, budget.steps)
            rows = [m.order[step * budget.batch_size : (step + 1) * budget.batch_size] for m in members]
            batch = train_chunks[torch.tensor(rows, device=self.device)]
            skeleton.train()
            with self._autocast():
                states = forward(batch)
            losses = _member_losses(states, head, batch, pad_id)
            losses.sum().backward()
            with torch.no_grad():
                _clip_per_member(trainable, MAX_GRAD_NORM)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                skeleton.eval()
                with self._autocast():
                    val_states = forward(val_batch)
                val_losses = _member_losses(val_states, head, val_batch, pad_id, chunk=EVAL_TOKEN_CHUNK)
            _record(members, losses.detach(), val_losses, lr, step + 1)
            on_step(1)
        wall = (time.perf_counter() - started) / len(pack)
        if setup.save_models_to is not None:
            for k, member in enumerate(members):
                unstack_member(setup, trainable, buffers, tied, k).save_pretrained(setup.save_models_to / member.run.key)
        return [
            RunResult(
                key=m.run.key,
                engine=self.name,
                status="failed" if m.error else "completed",
                error=m.error,
                wall_seconds=wall,
                train_loss=m.train_loss,
                val_loss=m.val_loss,
                learning_rate=m.learning_rate,
                eval_steps=list(range(1, len(m.val_loss) + 1)),
            )
            for m in members
        ]

    def _autocast(self):
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return torch.autocast(self.device.type, enabled=False)


def unstack_member(setup: TrainingSetup, trainable, buffers, tied: bool, k: int):
    """Member ``k`` as an ordinary Hugging Face model."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_config(setup.model_config)
    state = {f"transformer.{n}": p[k].detach().cpu() for n, p in trainable.items() if n != "lm_head.weight"}
    state.update({f"transformer.{n}": b[k].cpu() for n, b in buffers.items()})
    state["lm_head.weight"] = (trainable["wte.weight"] if tied else trainable["lm_head.weight"])[k].detach().cpu()
    model.load_state_dict(state, strict=False)
    return model


def _linear_factor(step: int, steps: int) -> float:
    """The Trainer's linear schedule without warmup: lr × (steps − step) / steps at 0-based ``step``."""
    return max(0.0, (steps - step) / steps)


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


def _record(members: list[_Member], train, val, lr: float, step: int) -> None:
    for k, member in enumerate(members):
        if member.error:
            continue
        train_k, val_k = float(train[k]), float(val[k])
        if not (math.isfinite(train_k) and math.isfinite(val_k)):
            which = "training loss" if not math.isfinite(train_k) else "validation loss"
            member.error = f"{which} is {train_k if which == 'training loss' else val_k} at step {step}"
            continue
        member.train_loss.append(train_k)
        member.val_loss.append(val_k)
        member.learning_rate.append(lr)


def _parameter_estimate(config) -> int:
    width, layers = config.n_embd, config.n_layer
    return config.vocab_size * width + config.n_positions * width + layers * 12 * width * width
