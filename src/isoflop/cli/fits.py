"""``isoflop fit`` and ``isoflop advise``: scaling laws from points, and advice from a law."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click

from ..errors import UnreliableResult, UsageError, first_line
from ..fit.budgets import DEFAULT_TOLERANCE
from ..fit.objectives import HUBER_DELTA, OBJECTIVES

FORCE_HELP = "show (and save) a fit even when it is degenerate, marked as unreliable"


@click.command()
@click.argument("source", type=click.Path())
@click.option("--approach", type=click.Choice(["1", "2", "3"]), default="3", help="Hoffmann et al.'s approach")
@click.option("--bootstrap", type=click.IntRange(min=0), default=None,
              help="bootstrap resamples for the intervals [default: 1000; the isoflops report uses its fit_bootstrap]")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="seed of the bootstrap resamples")
@click.option("--objective", type=click.Choice(OBJECTIVES), default="huber", show_default=True,
              help="what approach 3 minimises over log-space residuals (huber-likelihood: Epoch AI's headline fit)")
@click.option("--huber-delta", type=float, default=HUBER_DELTA, show_default=True, help="δ of the Huber loss or likelihood")
@click.option("--budget-tolerance", type=float, default=DEFAULT_TOLERANCE, show_default=True,
              help="approach 2: C values within this relative distance share a budget")
@click.option("--budgets", default=None, help="approach 2: the budgets C1,C2,… to snap each point's C to")
@click.option("--columns", default=None, help="which header holds which column, e.g. N=params,D=tokens,loss=val")
@click.option("--dedupe", is_flag=True, help="drop rows that repeat an earlier row exactly")
@click.option("--json", "as_json", is_flag=True, help="print the fitted values and intervals as JSON")
@click.option("--save", type=click.Path(dir_okay=False), default=None, help="write the fit as JSON (for isoflop advise)")
@click.option("--flop-convention", type=click.Choice(["6N", "table"]), default=None,
              help="how a CSV's compute is counted: 6N (C = 6ND, the default) or table (FLOPs per token = C / D from its C column); "
                   "a study folder uses its own")
@click.option("--force", is_flag=True, help=FORCE_HELP)
def fit(source: str, approach: str, bootstrap: int | None, seed: int, objective: str, huber_delta: float,
        budget_tolerance: float, budgets: str | None, columns: str | None, dedupe: bool, as_json: bool,
        save: str | None, flop_convention: str | None, force: bool) -> None:
    """Fit a scaling law to SOURCE: a CSV or TSV with N, D, loss (optional C, U, seed; aliases such as params,
    tokens, flops, val_loss are understood) or an isoflops results folder."""
    from ..files import write_atomic
    from ..fit.api import DEFAULT_BOOTSTRAP, FitSettings, describe, run_fit, without_nan
    from ..fit.checks import unreliable_line
    from ..fit.objectives import Objective
    from ..fit.points import fit_table_from
    from ..fit.table import parse_mapping

    if save and not Path(save).resolve().parent.is_dir():
        raise UsageError(f"--save {save!r}: its folder does not exist; create it or choose another path")
    settings = FitSettings(
        approach=int(approach), bootstrap=DEFAULT_BOOTSTRAP if bootstrap is None else bootstrap, seed=seed,
        objective=Objective(objective, huber_delta), budget_tolerance=budget_tolerance,
        budgets=_numbers("--budgets", budgets), progress=not as_json,
    )
    table, source_facts = fit_table_from(source, curves=approach == "1", convention=flop_convention,
                                         mapping=parse_mapping(columns), dedupe=dedupe)
    result = without_nan(run_fit(table, settings, source_facts))
    if result["problems"] and not force:
        raise UnreliableResult(unreliable_line("law", result["problems"]) + "; --force shows it anyway")
    if save:
        write_atomic(Path(save), json.dumps(result, indent=2))
    click.echo(json.dumps(result, indent=2) if as_json else describe(result))


def _numbers(option: str, text: str | None) -> tuple[float, ...] | None:
    if not text:
        return None
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise UsageError(f"{option} {text!r}: give numbers separated by commas, e.g. 1e18,1e19,1e20") from None


@click.command()
@click.option("--flops", type=float, required=True, help="compute budget C in FLOPs")
@click.option("--unique-tokens", type=float, default=None, help="cap on unique training tokens U")
@click.option("--fit", "fit_file", type=click.Path(dir_okay=False), required=True, help="a fit saved by isoflop fit --save")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.option("--force", is_flag=True, help="advise from a fit that was saved as unreliable")
def advise(flops: float, unique_tokens: float | None, fit_file: str, as_json: bool, force: bool) -> None:
    """Recommend N, D and epochs for a budget from a fitted law, with the predicted loss.

    Compute is converted to N and D with the fit's own FLOP convention."""
    from ..fit.advice import advise as make_advice
    from ..fit.advice import advise_allocation
    from ..fit.chinchilla import ChinchillaLaw
    from ..fit.flops import FlopCount

    for name, value in (("--flops", flops), ("--unique-tokens", unique_tokens)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise UsageError(f"{name} must be a positive finite number, got {value}")
    saved = _read_json(Path(fit_file))
    if "law" not in saved and "N_opt" not in saved:
        raise UsageError(f"{fit_file} holds no fitted law; save one with isoflop fit --save")
    if saved.get("problems") and not force:
        raise UnreliableResult(f"{fit_file} was saved as unreliable ({'; '.join(map(str, saved['problems']))}); "
                               "refit on better data, or pass --force to use it anyway")
    count = FlopCount.from_dict(saved.get("flops"))
    constrained = saved.get("constrained")
    r_star = constrained.get("R_D_star") if isinstance(constrained, dict) else None
    fitted = saved.get("range")
    if fitted is not None and not _valid_range(fitted):
        raise UsageError(f"{fit_file}: its 'range' is not a mapping of N, D, C to [low, high]; save the fit again with isoflop fit --save")
    if "law" in saved:
        try:
            law = ChinchillaLaw.from_dict(saved["law"])
        except (KeyError, TypeError, ValueError) as error:
            raise UsageError(f"{fit_file} holds no complete L(N, D) law ({first_line(error)}); save one with isoflop fit --approach 3 --save") from None
        advice = make_advice(law, flops, count, unique_tokens, r_star, fitted)
    elif unique_tokens is not None:
        raise UsageError("--unique-tokens needs an L(N, D) law (isoflop fit --approach 3 --save); this fit holds N*(C) only")
    else:
        try:
            advice = advise_allocation(saved, flops, count, fitted)
        except (KeyError, TypeError, ValueError) as error:
            raise UsageError(f"{fit_file} holds no complete N*(C) fit ({first_line(error)}); save one with isoflop fit --save") from None
    if not (advice.parameters >= 1 and advice.tokens >= 1 and (advice.loss is None or math.isfinite(advice.loss))):
        raise UsageError(
            f"at C = {flops:.3g} FLOPs this law recommends {advice.parameters:.3g} parameters and {advice.tokens:.3g} tokens: "
            "the budget lies far outside what the law describes; ask for a budget near the range it was fitted on"
        )
    if as_json:
        from ..fit.api import without_nan

        click.echo(json.dumps(without_nan(advice.as_dict()), indent=2))
        return
    click.echo(f"for C = {flops:.3g} FLOPs: N = {advice.parameters:.3g} parameters, D = {advice.tokens:.3g} tokens"
               + (f" ({advice.epochs:.2f} epochs of {unique_tokens:.3g} unique tokens)" if advice.epochs else ""))
    if advice.loss is not None:
        interval = (f"[{advice.loss_interval[0]:.4f}, {advice.loss_interval[1]:.4f}]" if advice.loss_interval
                    else "(no interval: the law has no bootstrap samples)" if "law" in saved else "(no interval)")
        click.echo(f"predicted loss {advice.loss:.4f} {interval}")
    click.echo(f"found by {advice.method}")
    if saved.get("problems"):
        click.echo("note: UNRELIABLE law (--force): " + "; ".join(map(str, saved["problems"])))
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
