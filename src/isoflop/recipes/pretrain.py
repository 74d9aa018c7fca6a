"""Pretraining a GPT-2 from scratch with 🤗 Accelerate: counted in steps, evaluated every X steps on Y samples,
checkpointed, resumable exactly.

Data: each optimizer step takes the next ``processes × batch_size × accumulation`` windows of the
infinite packed stream, process r the windows whose index is r modulo the number of processes,
so one process and N processes see the same global batches, and a checkpoint's data position is
just the number of windows consumed. A checkpoint (``OUTPUT/checkpoints/step-K``) holds the model,
optimizer, scheduler and RNG states (``Accelerator.save_state``) and that position; ``--resume``
restores them all and continues where the run stopped: on CPU, bit for bit.
"""

from __future__ import annotations

import json
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from ..config.recipes import PretrainConfig
from ..errors import UsageError
from .base import (
    METRICS,
    CheckpointFolder,
    RecipeResult,
    append_metrics,
    flops_of,
    gpt2_config,
    load_recipe_tokenizer,
    save_model,
    stream_options,
    validation_windows,
)
from .record import RecipeRun, save_recipe_run

# Accelerate's names for the precision part's values.
MIXED_PRECISION = {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}


@dataclass(frozen=True)
class PretrainData:
    """What every pretraining loop trains and evaluates on: the tokenizer, the model's shape, the packed stream
    and the fixed validation windows."""

    tokenizer: object
    model_config: object  # GPT2Config
    train: object  # the ConstantLengthDataset
    validation: list[list[int]]
    chars_per_token: object  # data.packed.CharsPerToken


@dataclass
class _Run:
    """Everything one pretraining run holds while it trains (set up once, then stepped)."""

    config: PretrainConfig
    accelerator: object
    data: PretrainData
    model: object
    optimizer: object
    scheduler: object
    parameters: int
    non_embedding: int
    folder: CheckpointFolder
    start: int = 0
    consumed: int = 0
    metrics: list[dict] = field(default_factory=list)

    @property
    def per_step(self) -> int:
        return self.accelerator.num_processes * self.config.optimizer.batch_size * self.config.gradient_accumulation


def pretrain(config: PretrainConfig, resume: bool = False, echo=print, progress: bool = True) -> RecipeResult:
    """Set up (or resume) the run in ``config.output``, train it to ``max_steps``, save the model and its record."""
    run = setup(config, resume, echo)
    started = time.perf_counter()
    tokens_done = train(run, progress)
    seconds = time.perf_counter() - started
    return finish(run, tokens_done, seconds)


def prepare(config: PretrainConfig) -> PretrainData:
    """The tokenizer, shape and data of a pretraining run, every problem one line (shared by every loop)."""
    from ..data.packed import CharsPerToken, ConstantLengthDataset, measure_chars_per_token

    if config.precision.precision == "fp16":
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--precision fp16 needs a CUDA GPU (here the loop would train in fp32 without a word); "
                             "use fp32, or bf16")
    tokenizer = load_recipe_tokenizer(config.tokenizer.tokenizer)
    model_config = gpt2_config(config.size, config.gpt2_overrides, config.model_options.dropout, config.data.seq_len,
                               len(tokenizer), tokenizer.eos_token_id)
    train_options = stream_options(config.data, config.stream, "train", config.seed)
    cpt = (CharsPerToken(config.chars_per_token, 0) if config.chars_per_token
           else measure_chars_per_token(tokenizer, config.data.train_data, train_options))
    separator = tokenizer.eos_token_id if config.data.chunking == "packed" else None
    train = ConstantLengthDataset(tokenizer, config.data.train_data, train_options, config.data.seq_len, cpt.value,
                                  separator=separator)
    validation = validation_windows(tokenizer, config.data, config.evaluation.eval_samples, cpt.value, separator)
    return PretrainData(tokenizer, model_config, train, validation, cpt)


def scheduler_of(optimizer, config: PretrainConfig):
    """The per-step learning-rate schedule (``LambdaLR``, so checkpoints hold its state)."""
    import torch

    from ..training.optim import schedule_factor

    steps = config.max_steps
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: schedule_factor(config.optimizer, step, steps))


def setup(config: PretrainConfig, resume: bool, echo=print) -> _Run:
    """The model, optimizer, schedule and data of the run, restored from its last checkpoint when resuming."""
    from accelerate.utils import set_seed
    from transformers import GPT2LMHeadModel

    from ..training import optim

    folder = CheckpointFolder(Path(config.output), "pretraining")
    checkpoint = folder.starting_point(resume)
    data = prepare(config)
    accelerator = _accelerator(config, Path(config.output))
    set_seed(config.seed)
    model = GPT2LMHeadModel(data.model_config)
    parameters, non_embedding = count_parameters(data.model_config)
    optimizer = optim.adamw(model.named_parameters(), config.optimizer)
    scheduler = scheduler_of(optimizer, config)
    model, optimizer = accelerator.prepare(model, optimizer)
    accelerator.register_for_checkpointing(scheduler)  # stepped here, once per optimizer step, whatever the world size
    run = _Run(config, accelerator, data, model, optimizer, scheduler, parameters, non_embedding, folder)
    if checkpoint is not None:
        accelerator.load_state(str(checkpoint))
        run.start, run.consumed = folder.position(checkpoint)
        data.train.skip = run.consumed
        if accelerator.is_main_process:
            folder.truncate_metrics(run.start)
        echo(f"resumed from {checkpoint} (step {run.start}, {run.consumed:,} windows consumed)")
    return run


def count_parameters(model_config) -> tuple[int, int]:
    """All parameters of the GPT-2 and those outside its token and position embeddings (``models``' one count)."""
    from ..models.build import count_parameters as counted

    count = counted(model_config)
    return count.total, count.non_embedding


def train(run: _Run, progress: bool) -> int:
    """Every remaining optimizer step, evaluated and checkpointed on schedule; the tokens trained on here."""
    from ..progress import progress as progress_bar

    config, accelerator = run.config, run.accelerator
    eval_steps = set(config.evaluation.eval_steps(config.max_steps))
    windows = iter(run.data.train)
    last_eval = None
    if run.start == 0:
        last_eval = evaluate(run)
        run.metrics.append({"step": 0, "eval_loss": last_eval, "perplexity": math.exp(last_eval)})
    started, tokens_done = time.perf_counter(), 0
    run.model.train()
    with progress_bar(total=config.max_steps, initial=run.start, desc="pretraining", unit="steps",
                      enabled=progress and accelerator.is_main_process, delay=1.0, heartbeat=config.heartbeat_seconds) as bar:
        for step in range(run.start + 1, config.max_steps + 1):
            record = {"step": step, "train_loss": train_step(run, windows),
                      "learning_rate": run.scheduler.get_last_lr()[0]}
            tokens_done += run.per_step * config.data.seq_len
            if step in eval_steps:
                last_eval = evaluate(run)
                record |= {"eval_loss": last_eval, "perplexity": math.exp(last_eval)}
                run.model.train()
            record["tokens_per_second"] = tokens_done / max(time.perf_counter() - started, 1e-9)
            run.metrics.append(record)
            if config.report_to:
                accelerator.log(record, step=step)
            bar.set_postfix(loss=f"{record['train_loss']:.3f}", ppl=f"{math.exp(last_eval):.1f}" if last_eval else "-",
                            tok_s=f"{record['tokens_per_second']:,.0f}")
            bar.update(1)
            if step % config.checkpoint_every == 0 and step < config.max_steps:
                checkpoint(run, step)
    append_metrics(run.folder.out, run.metrics, accelerator.is_main_process)
    run.metrics = []
    return tokens_done


def train_step(run: _Run, windows) -> float:
    """One optimizer step over the next global batch (this process's share, in micro-batches); its mean loss."""
    import torch

    config, accelerator = run.config, run.accelerator
    world, rank = accelerator.num_processes, accelerator.process_index
    batch_size, accumulation = config.optimizer.batch_size, config.gradient_accumulation
    mine = [next(windows) for _ in range(run.per_step)][rank::world]
    total = torch.zeros((), device=accelerator.device)
    for micro in range(accumulation):
        batch = torch.tensor(mine[micro * batch_size : (micro + 1) * batch_size], device=accelerator.device)
        with nullcontext() if micro == accumulation - 1 else accelerator.no_sync(run.model):
            loss = run.model(input_ids=batch, labels=batch).loss / accumulation
            accelerator.backward(loss)
        total += loss.detach()
    accelerator.clip_grad_norm_(run.model.parameters(), config.optimizer.max_grad_norm)
    run.optimizer.step()
    run.scheduler.step()
    run.optimizer.zero_grad()
    run.consumed += run.per_step
    return accelerator.reduce(total, "mean").item()


def evaluate(run: _Run) -> float:
    """Mean validation loss over the fixed validation windows, shared out among the processes."""
    import torch

    accelerator, batch_size = run.accelerator, run.config.optimizer.batch_size
    run.model.eval()
    losses = []
    mine = run.data.validation[accelerator.process_index :: accelerator.num_processes]
    with torch.no_grad():
        for start in range(0, len(mine), batch_size):
            batch = torch.tensor(mine[start : start + batch_size], device=accelerator.device)
            losses.append(run.model(input_ids=batch, labels=batch).loss)
    return accelerator.reduce(torch.stack(losses).mean(), "mean").item()


def checkpoint(run: _Run, step: int) -> None:
    """The metrics so far appended, then ``step-K`` saved complete (or not at all)."""
    accelerator = run.accelerator
    append_metrics(run.folder.out, run.metrics, accelerator.is_main_process)
    run.metrics = []
    run.folder.save(step, run.consumed, accelerator.save_state, accelerator.is_main_process, accelerator.wait_for_everyone)


def finish(run: _Run, tokens_done: int, seconds: float) -> RecipeResult:
    """The final model saved, the run recorded in ``OUTPUT/results.sqlite``, trackers closed."""
    config, accelerator = run.config, run.accelerator
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        save_model(accelerator.unwrap_model(run.model), run.data.tokenizer, run.folder.out)
    accelerator.wait_for_everyone()
    result = record(config, run.data, run.folder.out, run.parameters, run.non_embedding, run.consumed, run.per_step,
                    tokens_done, seconds, "accelerate", accelerator.is_main_process)
    if config.report_to:
        accelerator.end_training()
    return result


def record(config: PretrainConfig, data: PretrainData, out: Path, parameters: int, non_embedding: int, consumed: int,
           per_step: int, tokens_done: int, seconds: float, loop: str, main: bool) -> RecipeResult:
    """The run's record in ``OUTPUT/results.sqlite`` (by the main process) and its result, from ``metrics.jsonl``."""
    history = [json.loads(line) for line in (out / METRICS).read_text().splitlines()]
    seq_len = config.data.seq_len
    if main:
        unique = data.train.windows_per_pass or consumed
        per_token = flops_of(data.model_config, non_embedding, seq_len, 1)
        save_recipe_run(out, RecipeRun(
            "pretrain", config.model_dump(mode="json", exclude={"output", "checkpoint_every", "report_to"}),
            f"scratch:{config.size}", parameters, non_embedding, per_token["full"],
            consumed * seq_len, consumed, unique, unique * seq_len, history, data.validation,
            data.tokenizer, seconds, config.precision.precision, loop, per_token))
    evals = [h["eval_loss"] for h in history if "eval_loss" in h]
    tokens = config.max_steps * per_step * seq_len
    return RecipeResult(out, parameters, non_embedding, config.max_steps, tokens,
                        flops_of(data.model_config, non_embedding, seq_len, tokens), evals[-1], evals[0],
                        tokens_done / max(seconds, 1e-9), data.chars_per_token, seconds, main)


def _accelerator(config: PretrainConfig, out: Path):
    import torch
    from accelerate import Accelerator
    from accelerate.utils import is_mlflow_available, is_tensorboard_available, is_wandb_available

    available = {"tensorboard": is_tensorboard_available, "wandb": is_wandb_available, "mlflow": is_mlflow_available}
    for tracker in config.report_to:  # Accelerate would drop a missing tracker with a warning: refuse instead
        if not available[tracker]():
            raise UsageError(f"--report-to {tracker}: its package is not installed; pip install {tracker}, or drop it")
    # Without an accelerator, cpu=True is what lets Accelerate see a multi-process (gloo) launch as one.
    cpu = not torch.cuda.is_available() and not torch.backends.mps.is_available()
    try:
        accelerator = Accelerator(cpu=cpu, mixed_precision=MIXED_PRECISION[config.precision.precision],
                                  log_with=list(config.report_to) or None, project_dir=str(out))
    except (ValueError, ImportError, RuntimeError) as error:
        raise UsageError(f"Accelerate could not start ({str(error).splitlines()[0]}); check --precision "
                         "(bf16/fp16 need hardware that has it) and --report-to (its package must be installed)") from None
    if config.report_to:
        accelerator.init_trackers("isoflop-pretrain", config=config.model_dump(mode="json"))
    return accelerator
