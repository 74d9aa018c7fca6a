"""``isoflop pretrain``, ``isoflop finetune``, ``isoflop generate``: the recipes around the studies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..config.parts import SamplingConfig
from ..config.recipes import FinetuneConfig, PretrainConfig
from ..errors import Interrupted, UsageError
from .options import CONFIG_FILE, config_options, part_options


@click.command()
@click.option("--resume", is_flag=True, help="continue the run in --output from its last checkpoint (optimizer, scheduler, data and RNG states)")
@click.option("--quiet", is_flag=True, help="no progress bar")
@CONFIG_FILE
@config_options(PretrainConfig)
def pretrain(resume: bool, quiet: bool, config_file: str | None, **values: Any) -> None:
    """Pretrain a GPT-2 from scratch on a streamed corpus (runs under `accelerate launch` too)."""
    from ..config.load import build_composed
    from ..quiet import silence_libraries
    from ..recipes.base import CheckpointFolder

    silence_libraries()
    config = build_composed(PretrainConfig, config_file, values)
    run = _loop(config.loop)
    try:
        result = run(config, resume=resume, echo=lambda line: click.echo(line, err=True), progress=not quiet)
    except KeyboardInterrupt:
        raise Interrupted(CheckpointFolder(Path(config.output), "pretraining").interruption_advice()) from None
    if not result.main_process:
        return
    click.echo(f"GPT-2 {config.size}: {result.parameters:,} parameters ({result.non_embedding:,} non-embedding); "
               f"{result.chars_per_token.describe()}")
    click.echo(f"{result.steps:,} steps, {result.tokens:,} tokens, {result.flops['full']:.3g} FLOPs (full count; "
               f"6N: {result.flops['6N']:.3g}) in {result.seconds:.0f} s, {result.tokens_per_second:,.0f} tokens/s")
    click.echo(f"validation perplexity {_ppl(result.first_eval_loss)} → {_ppl(result.final_eval_loss)} "
               f"(loss {result.first_eval_loss:.4f} → {result.final_eval_loss:.4f})")
    click.echo(f"model: {result.folder}/model/  (metrics: {result.folder}/metrics.jsonl)")


def _loop(name: str):
    """The entry function of the pretraining loop ``name`` (Lightning is an optional extra)."""
    if name == "lightning":
        import warnings

        # Lightning's own use of a torch API torch now deprecates; nothing a user can act on.
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")
        try:
            from ..recipes.lightning import pretrain as run
        except ImportError:
            raise UsageError("--loop lightning needs PyTorch Lightning: pip install 'isoflop[lightning]', or use "
                             "--loop accelerate") from None
        return run
    from ..recipes.pretrain import pretrain as run

    return run


def _ppl(loss: float) -> str:
    import math

    return f"{math.exp(loss):,.2f}"


@click.command()
@click.option("--quiet", is_flag=True, help="no progress bar")
@CONFIG_FILE
@config_options(FinetuneConfig)
def finetune(quiet: bool, config_file: str | None, **values: Any) -> None:
    """Fine-tune a causal LM on a text dataset (group_texts blocks, the HF Trainer); perplexity before and after."""
    from ..config.load import build_composed
    from ..quiet import silence_libraries
    from ..recipes.finetune import finetune as run

    silence_libraries()
    config = build_composed(FinetuneConfig, config_file, values)
    result = run(config, progress=not quiet)
    click.echo(f"{config.model}: {result.parameters:,} parameters; {result.train_blocks:,} training and "
               f"{result.validation_blocks:,} validation blocks of {config.data.seq_len} tokens from {config.data.train_data}")
    per_epoch = ", ".join(f"{p:,.2f}" for p in result.epoch_perplexities)
    click.echo(f"validation perplexity {result.perplexity_before:,.2f} → {result.perplexity_after:,.2f}"
               + (f" (after each epoch: {per_epoch})" if per_epoch else "") + f" in {result.seconds:.0f} s")
    click.echo(f"model: {result.folder}/model/")


@click.command()
@click.argument("models", nargs=-1, required=True)
@click.option("--prompt", required=True, help="text to complete")
@part_options(SamplingConfig)
def generate(models: tuple[str, ...], prompt: str, **values: Any) -> None:
    """Complete a prompt with each MODEL (a folder, a study's saved run, or a Hub name), side by side."""
    from ..config.load import build_part
    from ..quiet import silence_libraries
    from ..training.generate import generate as complete
    from ..training.generate import prepare

    silence_libraries()
    sampling = build_part(SamplingConfig, values)
    generators = [prepare(spec, prompt, sampling) for spec in models]  # every model checked before any output
    for spec, generator in zip(models, generators):
        result = complete(generator, sampling)
        click.echo(f"── {spec} ({result.parameters:,} parameters), seed {sampling.seed}"
                   + (", greedy" if sampling.temperature == 0 else ""))
        for number, text in enumerate(result.texts, start=1):
            prefix = f"[{number}] " if len(result.texts) > 1 else ""
            click.echo(prefix + prompt + text)
