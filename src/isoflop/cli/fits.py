"""``isoflop fit`` and ``isoflop advise``: scaling laws from points, and advice from a law."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click

from ..errors import UsageError, first_line


@click.command()
@click.argument("source", type=click.Path())
@click.option("--approach", type=click.Choice(["1", "2", "3"]), default="3", help="Hoffmann et al.'s approach")
@click.option("--bootstrap", type=click.IntRange(min=0), default=100, help="bootstrap resamples for the intervals")
@click.option("--json", "as_json", is_flag=True, help="print the fitted values and intervals as JSON")
@click.option("--save", type=click.Path(dir_okay=False), default=None, help="write the fit as JSON (for isoflop advise)")
def fit(source: str, approach: str, bootstrap: int, as_json: bool, save: str | None) -> None:
    """Fit a scaling law to SOURCE: a CSV with N, D, loss (optional C, U, seed) or an isoflops results folder."""
    from ..files import write_atomic
    from ..fit.api import describe, run_fit, without_nan
    from ..fit.points import fit_table_from

    if save and not Path(save).resolve().parent.is_dir():
        raise UsageError(f"--save {save!r}: its folder does not exist; create it or choose another path")
    result = without_nan(run_fit(fit_table_from(source, curves=approach == "1"), int(approach), bootstrap=bootstrap))
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

    for name, value in (("--flops", flops), ("--unique-tokens", unique_tokens)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise UsageError(f"{name} must be a positive finite number, got {value}")
    saved = _read_json(Path(fit_file))
    if "law" not in saved:
        raise UsageError(f"{fit_file} holds no L(N, D) law; save one with isoflop fit --approach 3 --save")
    constrained = saved.get("constrained")
    r_star = constrained.get("R_D_star") if isinstance(constrained, dict) else None
    fitted = saved.get("range")
    if fitted is not None and not _valid_range(fitted):
        raise UsageError(f"{fit_file}: its 'range' is not a mapping of N, D, C to [low, high]; save the fit again with isoflop fit --save")
    try:
        law = ChinchillaLaw.from_dict(saved["law"])
    except (KeyError, TypeError, ValueError) as error:
        raise UsageError(f"{fit_file} holds no complete L(N, D) law ({first_line(error)}); save one with isoflop fit --approach 3 --save") from None
    advice = make_advice(law, flops, unique_tokens, r_star, fitted)
    if not (advice.parameters >= 1 and advice.tokens >= 1 and math.isfinite(advice.loss)):
        raise UsageError(
            f"at C = {flops:.3g} FLOPs this law recommends {advice.parameters:.3g} parameters and {advice.tokens:.3g} tokens: "
            "the budget lies far outside what the law describes; ask for a budget near the range it was fitted on"
        )
    low, high = advice.loss_interval
    if as_json:
        from ..fit.api import without_nan

        click.echo(json.dumps(without_nan(advice.as_dict()), indent=2))
        return
    click.echo(f"for C = {flops:.3g} FLOPs: N = {advice.parameters:.3g} parameters, D = {advice.tokens:.3g} tokens"
               + (f" ({advice.epochs:.2f} epochs of {unique_tokens:.3g} unique tokens)" if advice.epochs else ""))
    interval = f"[{low:.4f}, {high:.4f}]" if math.isfinite(low) else "(no interval: the law has no bootstrap samples)"
    click.echo(f"predicted loss {advice.loss:.4f} {interval}")
    for note in advice.notes:
        click.echo(f"note: {note}")


def _read_json(path: Path):
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"fit file {str(path)!r} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"fit file {str(path)!r} is not JSON ({first_line(error)})") from None
    except OSError as error:
        raise UsageError(f"fit file {str(path)!r} cannot be read ({error.strerror})") from None
    if not isinstance(data, dict):
        raise UsageError(f"fit file {str(path)!r} holds no fit (a JSON object is expected)")
    return data


def _valid_range(fitted) -> bool:
    return isinstance(fitted, dict) and all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, (int, float)) for v in pair) for pair in fitted.values()
    )
