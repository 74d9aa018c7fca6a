"""Pretraining a GPT-2 from scratch with 🤗 Accelerate: counted in steps, evaluated every X steps for Y batches,
checkpointed, resumable exactly.

Data: each optimizer step takes the next ``processes × batch_size × accumulation`` windows of the
infinite packed stream, process r the windows whose index is r modulo the number of processes,
so one process and N processes see the same global batches, and a checkpoint's data position is
just the number of windows consumed. A checkpoint (``OUT/checkpoints/step-K``) holds the model,
optimizer, scheduler and RNG states (``Accelerator.save_state``) and that position; ``--resume``
restores them all and continues where the run stopped: on CPU, bit for bit.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from ..config.recipes import CHAIN_TOKENIZER, PretrainConfig
from ..data.packed import CharsPerToken, PackedDataset, measure_chars_per_token
from ..data.stream import StreamOptions
from ..errors import UsageError
from ..files import atomic_folder
from .recipe_record import RecipeRun, bytes_per_token, save_recipe_run

CHECKPOINTS = "checkpoints"
POSITION = "position.json"
METRICS = "metrics.jsonl"
MODEL = "model"
KEEP_CHECKPOINTS = 2


@dataclass(frozen=True)
class PretrainResult:
    folder: Path
    parameters: int
    non_embedding: int
    steps: int
    tokens: int
    flops: dict[str, float]  # convention → training FLOPs
    final_eval_loss: float
    first_eval_loss: float
    tokens_per_second: float
    chars_per_token: CharsPerToken
    seconds: float
    main_process: bool  # under a multi-process launch, only the main process reports


def latest_checkpoint(out: Path) -> Path | None:
    found = sorted((p for p in (out / CHECKPOINTS).glob("step-*") if (p / POSITION).is_file()),
                   key=lambda p: int(p.name.split("-")[1]))
    return found[-1] if found else None


def starting_point(out: Path, resume: bool) -> Path | None:
    """The checkpoint to resume from (None: start afresh), or one line saying why this --out cannot go on as asked."""
    checkpoint = latest_checkpoint(out)
    if (out / MODEL).exists():
        if resume:
            raise UsageError(f"--resume: nothing to resume, the run in {str(out)!r} finished (its model is in {out / MODEL}); "
                             "nothing was changed; choose a new --out to train again")
        raise UsageError(f"--out {str(out)!r} holds a finished pretraining run ({out / MODEL}); choose a new --out")
    if resume and checkpoint is None:
        raise UsageError(f"--resume: {out}/{CHECKPOINTS}/ holds no checkpoint; run without --resume to start")
    if not resume and checkpoint is not None:
        raise UsageError(f"--out {str(out)!r} holds an interrupted pretraining run (last checkpoint: {checkpoint.name}); "
                         "pass --resume to continue it, or choose a new --out")
    return checkpoint


def interruption_advice(out: Path) -> str:
    """What to do after Ctrl-C or SIGTERM, from what the run left in ``out``."""
    checkpoint = latest_checkpoint(out)
    if checkpoint is None:
        return f"no checkpoint was written yet in {out}; run the same command again to start over"
    return f"the last checkpoint ({checkpoint}) is kept; run the same command with --resume to continue from it"


def load_recipe_tokenizer(spec: str):
    from ..tokenization.resolve import load_tokenizer

    if spec == CHAIN_TOKENIZER and not Path(spec).is_dir():
        raise UsageError(f"tokenizer folder {spec!r} does not exist yet: run isoflop tokenizer train first, "
                         "or pass --tokenizer gpt2, bytes or another folder")
    return load_tokenizer(spec)


def gpt2_config(config: PretrainConfig, vocab_size: int, eos: int):
    from transformers import GPT2Config

    from ..models.specs import GPT2_CONTEXT, SCRATCH_SIZES

    shape = SCRATCH_SIZES[config.size]
    values = {"n_layer": shape.n_layer, "n_embd": shape.n_embd, "n_head": shape.n_head, "n_positions": GPT2_CONTEXT}
    for name, value in config.gpt2_overrides.items():
        if name not in GPT2Config().to_dict():
            raise UsageError(f"--gpt2-overrides: GPT2Config has no field {name!r}")
        values[name] = int(value) if float(value).is_integer() else value
    if values["n_embd"] % values["n_head"]:
        raise UsageError(f"n_embd {values['n_embd']} is not a multiple of n_head {values['n_head']}")
    if config.seq_len > values["n_positions"]:
        raise UsageError(f"--seq-len {config.seq_len} exceeds the model's context ({values['n_positions']} positions)")
    return GPT2Config(vocab_size=vocab_size, bos_token_id=eos, eos_token_id=eos, **values)


def pretrain(config: PretrainConfig, resume: bool = False, echo=print, progress: bool = True) -> PretrainResult:
    import torch
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm
    from transformers import GPT2LMHeadModel

    from ..training.schedule import lr_factor

    out = Path(config.out)
    checkpoint = starting_point(out, resume)
    if config.mixed_precision == "fp16" and not torch.cuda.is_available():
        raise UsageError("--mixed-precision fp16 needs a CUDA GPU (here Accelerate would train in fp32 without a word); "
                         "use no, or bf16")
    tokenizer = load_recipe_tokenizer(config.tokenizer)
    model_config = gpt2_config(config, len(tokenizer), tokenizer.eos_token_id)
    train_options = StreamOptions(split="train", text_column=config.text_column, buffer_size=config.shuffle_buffer, seed=config.seed)
    cpt = (CharsPerToken(config.chars_per_token, 0) if config.chars_per_token
           else measure_chars_per_token(tokenizer, config.train_data, train_options))
    accelerator = _accelerator(config, out)
    world, rank = accelerator.num_processes, accelerator.process_index
    set_seed(config.seed)
    model = GPT2LMHeadModel(model_config)
    parameters = sum(p.numel() for p in model.parameters())
    non_embedding = parameters - model.transformer.wte.weight.numel() - model.transformer.wpe.weight.numel()
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=config.learning_rate)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, config.max_steps, config.warmup_steps, config.schedule))
    model, optimizer = accelerator.prepare(model, optimizer)
    accelerator.register_for_checkpointing(scheduler)  # stepped here, once per optimizer step, whatever the world size
    train = PackedDataset(tokenizer, config.train_data, train_options, config.seq_len, cpt.value)
    validation = _validation(tokenizer, config, cpt.value, world * config.batch_size * config.eval_steps)
    start, consumed = 0, 0
    if checkpoint is not None:
        accelerator.load_state(str(checkpoint))
        position = json.loads((checkpoint / POSITION).read_text())
        start, consumed = position["step"], position["windows"]
        train.skip = consumed
        if accelerator.is_main_process:
            _truncate_metrics(out / METRICS, start)
        echo(f"resumed from {checkpoint} (step {start}, {consumed:,} windows consumed)")
    per_step = world * config.batch_size * config.gradient_accumulation
    windows = iter(train)
    device = accelerator.device
    metrics = []
    first_eval = last_eval = _evaluate(model, validation, rank, world, config.batch_size, accelerator) if start == 0 else None
    if first_eval is not None:
        metrics.append({"step": 0, "eval_loss": first_eval, "perplexity": math.exp(first_eval)})
    started = time.perf_counter()
    tokens_done = 0
    model.train()
    with tqdm(total=config.max_steps, initial=start, desc="pretraining", unit="step", disable=not (progress and accelerator.is_main_process),
              delay=1.0) as bar:
        for step in range(start, config.max_steps):
            rows = [next(windows) for _ in range(per_step)]
            mine = rows[rank::world]
            total = torch.zeros((), device=device)
            for micro in range(config.gradient_accumulation):
                batch = torch.tensor(mine[micro * config.batch_size : (micro + 1) * config.batch_size], device=device)
                sync = micro == config.gradient_accumulation - 1
                with nullcontext() if sync else accelerator.no_sync(model):
                    loss = model(input_ids=batch, labels=batch).loss / config.gradient_accumulation
                    accelerator.backward(loss)
                total += loss.detach()
            accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            consumed += per_step
            tokens_done += per_step * config.seq_len
            train_loss = accelerator.reduce(total, "mean").item()
            record = {"step": step + 1, "train_loss": train_loss, "learning_rate": scheduler.get_last_lr()[0]}
            if (step + 1) % config.eval_every == 0 or step + 1 == config.max_steps:
                last_eval = _evaluate(model, validation, rank, world, config.batch_size, accelerator)
                record |= {"eval_loss": last_eval, "perplexity": math.exp(last_eval)}
                model.train()
            rate = tokens_done / max(time.perf_counter() - started, 1e-9)
            record["tokens_per_second"] = rate
            metrics.append(record)
            if config.report_to:
                accelerator.log(record, step=step + 1)
            bar.set_postfix(loss=f"{train_loss:.3f}", ppl=f"{math.exp(last_eval):.1f}" if last_eval else "-", tok_s=f"{rate:,.0f}")
            bar.update(1)
            if (step + 1) % config.checkpoint_every == 0 and step + 1 < config.max_steps:
                _write_metrics(out, metrics, accelerator)
                metrics = []
                _checkpoint(accelerator, out, step + 1, consumed)
    _write_metrics(out, metrics, accelerator)
    seconds = time.perf_counter() - started
    _save_final(accelerator, model, tokenizer, out)
    history = [json.loads(line) for line in (out / METRICS).read_text().splitlines()]
    if accelerator.is_main_process:
        unique = train.windows_per_pass or consumed
        per_token = _flops(model_config, non_embedding, config.seq_len, 1)["full"]
        save_recipe_run(out, RecipeRun(
            "pretrain", config.model_dump(mode="json", exclude={"out", "checkpoint_every", "report_to"}),
            f"scratch:{config.size}", parameters, non_embedding, per_token, consumed * config.seq_len, consumed, unique,
            unique * config.seq_len, history, validation, bytes_per_token(tokenizer, validation), seconds,
            config.mixed_precision))
    if config.report_to:
        accelerator.end_training()
    evals = [h["eval_loss"] for h in history if "eval_loss" in h]
    tokens = config.max_steps * per_step * config.seq_len
    return PretrainResult(out, parameters, non_embedding, config.max_steps, tokens, _flops(model_config, non_embedding, config.seq_len, tokens),
                          evals[-1], evals[0], tokens_done / max(seconds, 1e-9), cpt, seconds, accelerator.is_main_process)


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
        accelerator = Accelerator(cpu=cpu, mixed_precision=config.mixed_precision, log_with=list(config.report_to) or None,
                                  project_dir=str(out))
    except (ValueError, ImportError, RuntimeError) as error:
        raise UsageError(f"Accelerate could not start ({str(error).splitlines()[0]}); check --mixed-precision "
                         "(bf16/fp16 need hardware that has it) and --report-to (its package must be installed)") from None
    if config.report_to:
        accelerator.init_trackers("isoflop-pretrain", config=config.model_dump(mode="json"))
    return accelerator


def _validation(tokenizer, config: PretrainConfig, cpt: float, needed: int) -> list[list[int]]:
    from itertools import islice

    source, split = (config.validation_data, "train") if config.validation_data else (config.train_data, "validation")
    fixed = PackedDataset(tokenizer, source, StreamOptions(split=split, text_column=config.text_column), config.seq_len, cpt,
                          infinite=False)
    windows = list(islice(fixed, needed))
    if len(windows) < needed:
        raise UsageError(f"the validation text holds {len(windows)} windows of {config.seq_len} tokens, fewer than the "
                         f"{needed} that --eval-steps {config.eval_steps} × --batch-size {config.batch_size} need; lower them")
    return windows


def _evaluate(model, windows, rank: int, world: int, batch_size: int, accelerator) -> float:
    import torch

    model.eval()
    losses = []
    mine = windows[rank::world]
    with torch.no_grad():
        for start in range(0, len(mine), batch_size):
            batch = torch.tensor(mine[start : start + batch_size], device=accelerator.device)
            losses.append(model(input_ids=batch, labels=batch).loss)
    mean = torch.stack(losses).mean()
    return accelerator.reduce(mean, "mean").item()


def _checkpoint(accelerator, out: Path, step: int, consumed: int) -> None:
    """``step-K`` complete or absent: saved under a temporary name, renamed, older ones pruned."""
    final = out / CHECKPOINTS / f"step-{step}"
    partial = out / CHECKPOINTS / f".step-{step}.partial"
    accelerator.save_state(str(partial))
    if accelerator.is_main_process:
        (partial / POSITION).write_text(json.dumps({"step": step, "windows": consumed}))
        partial.rename(final)
        for old in sorted(out.glob(f"{CHECKPOINTS}/step-*"), key=lambda p: int(p.name.split("-")[1]))[:-KEEP_CHECKPOINTS]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()


def _write_metrics(out: Path, metrics: list[dict], accelerator) -> None:
    if accelerator.is_main_process and metrics:
        out.mkdir(parents=True, exist_ok=True)
        with (out / METRICS).open("a", encoding="utf-8") as handle:
            handle.writelines(json.dumps(m) + "\n" for m in metrics)


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop what was logged after the checkpoint: those steps are about to be trained again."""
    if path.is_file():
        kept = [line for line in path.read_text().splitlines() if json.loads(line)["step"] <= step]
        path.write_text("".join(line + "\n" for line in kept))


def _save_final(accelerator, model, tokenizer, out: Path) -> None:
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        with atomic_folder(out / MODEL) as staging:
            accelerator.unwrap_model(model).save_pretrained(staging)
            tokenizer.save_pretrained(staging)
    accelerator.wait_for_everyone()


def _flops(model_config, non_embedding: int, seq_len: int, tokens: int) -> dict[str, float]:
    from ..budget import flops_per_token
    from ..models.specs import Architecture

    arch = Architecture(model_config.n_layer, model_config.n_embd, model_config.n_head, model_config.vocab_size,
                        model_config.n_positions)
    return {convention: flops_per_token(non_embedding, arch, seq_len, convention) * tokens for convention in ("6N", "full")}
