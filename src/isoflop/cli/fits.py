"""``isoflop fit`` and ``isoflop advise``: scaling laws from points, and advice from a law."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import UsageError


@click.command()
@click.argument("source", type=click.Path())
@click.option("--approach", type=click.Choice(["1", "2", "3"]), default="3", help="Hoffmann et al.'s approach")
@click.option("--bootstrap", type=click.IntRange(min=0), default=100, help="bootstrap resamples for the intervals")
@click.option("--json", "as_json", is_flag=True, help="print the fitted values and intervals as JSON")
@click.option("--save", type=click.Path(dir_okay=False), default=None, help="write the fit as JSON (for isoflop advise)")
def fit(source: str, approach: str, bootstrap: int, as_json: bool, save: str | None) -> None:
    """Fit a scaling law to SOURCE: a CSV with N, D, loss (optional C, U, seed) or an isoflops results folder."""
    from ..files import write_atomic
    from ..fit.api import describe, run_fit
    from ..fit.points import fit_table_from

    result = run_fit(fit_table_from(source, curves=approach == "1"), int(approach), bootstrap=bootstrap)
    if save:
        write_atomic(Path(save), json.dumps(result, indent=2))
    click.echo(json.dumps(result, indent=2) if as_json else describe(result))


@click.command()
@click.option("--flops", type=float, required=True, help="compute budget C in FLOPs")
@click.option("--unique-tokens", type=float, default=None, help="cap on unique training tokens U")
@click.option("--fit", "fit_file", type=click.Path(dir_okay=False), required=True, help="a fit saved by isoflop fit --approach 3 --save")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def advise(flops: float, unique_tokens: float | None, fit_file: str, as_json: bool) -> None:
    """Recommend N, D and epochs for a budget from a fitted law, with the predicted loss."""
    from ..fit.advice import advise as make_advice
    from ..fit.chinchilla import ChinchillaLaw

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


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"fit file {str(path)!r} does not exist") from None
    except json.JSONDecodeError as error:
        raise UsageError(f"fit file {str(path)!r} is not JSON ({error.msg})") from None
