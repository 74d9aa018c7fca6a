"""The command line: a thin layer over the studies, its options generated from the config."""

from __future__ import annotations

import json
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal

import click
from pydantic import BaseModel

from .errors import UsageError
from .studies.config import PRESETS, IsoflopsConfig, ScarcityConfig


def config_options(model: type[BaseModel], only: tuple[str, ...] | None = None):
    """Click options for the fields of ``model``: each setting is declared once, in the config."""

    def decorate(command):
        fields = [(n, f) for n, f in model.model_fields.items() if only is None or n in only]
        for name, field in reversed(fields):
            command = click.option(
                "--" + name.replace("_", "-"),
                name,
                type=_click_type(field.annotation),
                default=None,
                help=f"{field.description} [default: {_shown(field.get_default(call_default_factory=True))}]",
            )(command)
        return command

    return decorate


def _click_type(annotation):
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _click_type(args[0])
    if origin is Literal:
        return click.Choice([str(a) for a in args])
    if origin is tuple:
        return _CommaList(args[0])
    if origin is dict:
        return _CommaMapping()
    return {int: click.INT, float: click.FLOAT}.get(annotation, click.STRING)


class _CommaList(click.ParamType):
    """``1,2,5`` → (1, 2, 5)."""

    name = "LIST"

    def __init__(self, item_type):
        self.item_type = item_type

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            return tuple(self.item_type(part) for part in str(value).split(",") if part.strip())
        except ValueError:
            self.fail(f"{value!r} is not a comma-separated list of {self.item_type.__name__}", param, ctx)


class _CommaMapping(click.ParamType):
    """``25m=1e-3,50m=6e-4`` → {"25m": 0.001, "50m": 0.0006}."""

    name = "NAME=VALUE,..."

    def convert(self, value, param, ctx):
        if isinstance(value, dict):
            return value
        try:
            pairs = (part.split("=", 1) for part in str(value).split(",") if part.strip())
            return {key.strip(): float(number) for key, number in pairs}
        except ValueError:
            self.fail(f"{value!r} is not a list of NAME=NUMBER pairs", param, ctx)


def _shown(default: Any) -> str:
    if isinstance(default, tuple):
        return ",".join(str(v) for v in default)
    return str(default)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="isoflop")
def cli() -> None:
    """Compute-budgeted language-model training studies on Hugging Face models."""


@cli.command()
@click.option("--preset", type=click.Choice(list(PRESETS)), default=None, help="start from a named preset")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None, help="YAML/TOML/JSON config file")
@click.option("--quiet", is_flag=True, help="no progress bar")
@config_options(ScarcityConfig)
def scarcity(preset: str | None, config_file: str | None, quiet: bool, **overrides: Any) -> None:
    """Fixed compute, fewer unique samples: train one run per (D, seed) and answer how much it hurts."""
    from .studies.config import build_config
    from .studies.scarcity import run_study

    config = build_config(preset, config_file, overrides)
    outcome = run_study(config, echo=lambda line: click.echo(line, err=True), progress=not quiet)
    summary = outcome.folder / "summary.md"
    click.echo(f"{outcome.trained} run(s) trained, {outcome.skipped} skipped, {len(outcome.failed)} failed")
    click.echo(_answer_section(summary.read_text(encoding="utf-8")))
    click.echo(f"results: {outcome.folder}/  (summary.md, loss_vs_unique_samples.png, validation_curves.png)")
    if outcome.failed:
        sys.exit(1)


@cli.command()
@click.option("--preset", type=click.Choice(["offline", "gpu"]), default=None, help="start from a named preset")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None, help="YAML/TOML/JSON config file")
@click.option("--quiet", is_flag=True, help="no progress bar")
@config_options(IsoflopsConfig)
def isoflops(preset: str | None, config_file: str | None, quiet: bool, **overrides: Any) -> None:
    """Fixed compute, several model sizes: isoFLOP profiles, the compute-optimal model and the scaling law."""
    from .studies.config import build_config
    from .studies.isoflops import run_isoflops

    config = build_config(preset, config_file, overrides, kind=IsoflopsConfig)
    outcome = run_isoflops(config, echo=lambda line: click.echo(line, err=True), progress=not quiet)
    click.echo(f"{outcome.trained} run(s) trained, {outcome.skipped} skipped, {len(outcome.failed)} failed")
    click.echo(_answer_section((outcome.folder / "summary.md").read_text(encoding="utf-8")))
    click.echo(f"results: {outcome.folder}/  (summary.md and plots)")
    if outcome.failed:
        sys.exit(1)


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None, help="also export the runs as CSV")
@click.option("--per-step", is_flag=True, help="CSV with one row per run and step")
def show(folder: str, csv_path: str | None, per_step: bool) -> None:
    """Print the runs of a results folder as a table."""
    from .store import Store

    with Store(folder, create=False) as store:
        runs = store.runs()
        if csv_path:
            count = store.export_csv(csv_path, per_step=per_step)
            click.echo(f"wrote {count} rows to {csv_path}", err=True)
    header = (f"{'D':>6} {'seed':>5} {'epochs':>7} {'status':>9} {'final val':>10} {'best val':>9} {'best@':>6} "
              f"{'bits/B':>7} {'train FLOPs':>11} {'engine':>10} {'secs':>7}  {'key':<16}  model")
    click.echo(header)
    for run in runs:
        click.echo(
            f"{run['unique_samples']:>6} {run['seed']:>5} {run['epochs']:>7.3g} {run['status']:>9} "
            f"{_number(run['final_val_loss']):>10} {_number(run['best_val_loss']):>9} {run['best_step'] or '-':>6} "
            f"{_number(run['bits_per_byte']):>7} {run['train_flops']:>11.3g} {run['engine']:>10} "
            f"{run['wall_seconds']:>7.1f}  {run['key']:<16}  {run['model'] or ''}"
        )


@cli.group()
def data() -> None:
    """Inspect text sources."""


@data.command()
@click.argument("source")
@click.option("--split", type=click.Choice(["train", "validation"]), default="train", help="split of an embedded or Hub corpus")
@click.option("--json", "as_json", is_flag=True, help="print a JSON object")
@config_options(ScarcityConfig, only=("tokenizer", "seq_len", "chunking", "text_column"))
def stats(source: str, split: str, as_json: bool, **settings: Any) -> None:
    """Rows, tokens and chunks of SOURCE (embedded name, hub:NAME[:CONFIG], file or folder)."""
    from .data.prepare import corpus_stats
    from .data.sources import load_rows
    from .tokenizers import load_tokenizer

    defaults = ScarcityConfig.model_fields
    chosen = {k: (v if v is not None else defaults[k].default) for k, v in settings.items()}
    if chosen["seq_len"] <= 0:
        raise UsageError(f"--seq-len must be positive, got {chosen['seq_len']}")
    tokenizer = load_tokenizer(chosen["tokenizer"])
    rows = load_rows(source, split, chosen["text_column"])
    result = {"source": source, "split": split, "tokenizer": chosen["tokenizer"]}
    result.update(corpus_stats(rows, tokenizer, chosen["seq_len"], chosen["chunking"]).as_dict())
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            click.echo(f"{key:>16}: {value:.4f}" if isinstance(value, float) else f"{key:>16}: {value}")


@cli.command()
@click.argument("source", type=click.Path())
@click.option("--approach", type=click.Choice(["1", "2", "3"]), default="3", help="Hoffmann et al.'s approach")
@click.option("--bootstrap", type=click.IntRange(min=0), default=100, help="bootstrap resamples for the intervals")
@click.option("--json", "as_json", is_flag=True, help="print the fitted values and intervals as JSON")
@click.option("--save", type=click.Path(dir_okay=False), default=None, help="write the fit as JSON (for isoflop advise)")
def fit(source: str, approach: str, bootstrap: int, as_json: bool, save: str | None) -> None:
    """Fit a scaling law to SOURCE: a CSV with N, D, loss (optional C, U, seed) or an isoflops results folder."""
    from .fit.api import describe, run_fit
    from .studies.isoflops import fit_table_from

    result = run_fit(fit_table_from(source, curves=approach == "1"), int(approach), bootstrap=bootstrap)
    if save:
        _write_json(Path(save), result)
    click.echo(json.dumps(result, indent=2) if as_json else describe(result))


@cli.command()
@click.option("--flops", type=float, required=True, help="compute budget C in FLOPs")
@click.option("--unique-tokens", type=float, default=None, help="cap on unique training tokens U")
@click.option("--fit", "fit_file", type=click.Path(dir_okay=False), required=True, help="a fit saved by isoflop fit --approach 3 --save")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def advise(flops: float, unique_tokens: float | None, fit_file: str, as_json: bool) -> None:
    """Recommend N, D and epochs for a budget from a fitted law, with the predicted loss."""
    from .fit.advice import advise as make_advice
    from .fit.chinchilla import ChinchillaLaw

    if flops <= 0 or (unique_tokens is not None and unique_tokens <= 0):
        raise UsageError("--flops and --unique-tokens must be positive")
    saved = _read_json(Path(fit_file))
    if "law" not in saved:
        raise UsageError(f"{fit_file} holds no L(N, D) law; save one with isoflop fit --approach 3 --save")
    r_star = saved.get("constrained", {}).get("R_D_star")
    advice = make_advice(ChinchillaLaw.from_dict(saved["law"]), flops, unique_tokens, r_star, saved.get("range"))
    if as_json:
        click.echo(json.dumps(advice.as_dict(), indent=2))
        return
    low, high = advice.loss_interval
    click.echo(f"for C = {flops:.3g} FLOPs: N = {advice.parameters:.3g} parameters, D = {advice.tokens:.3g} tokens"
               + (f" ({advice.epochs:.2f} epochs of {unique_tokens:.3g} unique tokens)" if advice.epochs else ""))
    click.echo(f"predicted loss {advice.loss:.4f} [{low:.4f}, {high:.4f}]")
    for note in advice.notes:
        click.echo(f"note: {note}")


def _write_json(path: Path, data) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=2), encoding="utf-8")
    partial.replace(path)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"fit file {str(path)!r} does not exist") from None
    except json.JSONDecodeError as error:
        raise UsageError(f"fit file {str(path)!r} is not JSON ({error.msg})") from None


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _answer_section(summary: str) -> str:
    start = summary.find("## Answer")
    if start < 0:
        return summary
    end = summary.find("\n## ", start + 1)
    return summary[start:end].strip()


def main(argv: list[str] | None = None) -> None:
    """Entry point: user mistakes become one line on stderr and exit status 2."""
    try:
        cli.main(args=argv, prog_name="isoflop", standalone_mode=False)
    except UsageError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:  # bad options: one line too, not click's usage block
        click.echo(f"error: {error.format_message()} (see --help)", err=True)
        sys.exit(error.exit_code)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
