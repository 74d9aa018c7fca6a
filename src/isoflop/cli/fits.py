"""``isoflop fit`` and ``isoflop advise``: scaling laws from points, and advice from a law."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from ..errors import UnreliableResult, UsageError, first_line
from ..config.fit import FLAG_PREFIX, FitConfig
from .options import part_options

FORCE_HELP = "show (and save) a fit even when it is degenerate, marked as unreliable"


@click.command()
@click.argument("source", type=click.Path())
@click.option("--approach", type=click.Choice(["1", "2", "3", "constrained"]), default="3",
              help="Hoffmann et al.'s approach, or constrained: the data-constrained law of Muennighoff et al. (columns N, D, U, loss)")
@click.option("--base", default=None, help="--approach constrained: freeze E, A, B, α, β to this law (" + "a published law "
              "(chinchilla, epoch, datablations) or a saved fit) and fit only R_D*, R_N* [default: fit all jointly]")
@click.option("--params", type=click.Choice(["total", "non-embedding"]), default=None,
              help="what N counts: for a study folder, the headline count (default total; the other is fitted beside it); "
                   "for a CSV, what its N column holds (recorded in the law's provenance)")
@click.option("--columns", default=None, help="which header holds which column, e.g. N=params,D=tokens,loss=val")
@click.option("--dedupe", is_flag=True, help="drop rows that repeat an earlier row exactly")
@click.option("--json", "as_json", is_flag=True, help="print the fitted values and intervals as JSON")
@click.option("--save", type=click.Path(dir_okay=False), default=None, help="write the fit as JSON (for isoflop advise)")
@click.option("--flop-convention", type=click.Choice(["6N", "table"]), default=None,
              help="how a CSV's compute is counted: 6N (C = 6ND, the default) or table (FLOPs per token = C / D from its C column); "
                   "a study folder uses its own")
@click.option("--force", is_flag=True, help=FORCE_HELP)
@part_options(FitConfig, strip=FLAG_PREFIX)
def fit(source: str, approach: str, base: str | None, params: str | None, columns: str | None, dedupe: bool,
        as_json: bool, save: str | None, flop_convention: str | None, force: bool, **fit_options: Any) -> None:
    """Fit a scaling law to SOURCE: a CSV or TSV with N, D, loss (optional C, U, seed; aliases such as params,
    tokens, flops, val_loss are understood) or an isoflops results folder."""
    from ..config.load import build_part
    from ..files import write_atomic
    from ..fit.api import add_other_count, add_robustness, describe, fit_outcome, without_nan
    from ..fit.checks import unreliable_line
    from ..fit.points import fit_table_from
    from ..fit.settings import FitSettings
    from ..fit.table import parse_mapping

    if save and not Path(save).resolve().parent.is_dir():
        raise UsageError(f"--save {save!r}: its folder does not exist; create it or choose another path")
    settings = FitSettings(approach=int(approach) if approach.isdigit() else approach, base=base, progress=not as_json,
                           config=build_part(FitConfig, fit_options, strip=FLAG_PREFIX))
    study = _study(source)
    table, source_facts = fit_table_from(source, curves=approach == "1", convention=flop_convention,
                                         mapping=parse_mapping(columns), dedupe=dedupe, count=params, study=study)
    outcome = fit_outcome(table, settings, source_facts)
    result, tables = outcome.result, {table.parameter_count or "given": table}
    if study is not None and settings.approach in (1, 2, 3):  # a study folder: both parameter counts, always
        other = "non-embedding" if table.parameter_count == "total" else "total"
        tables[other] = fit_table_from(source, curves=approach == "1", count=other, study=study)[0]
        add_other_count(result, table, tables[other], settings)
    if settings.config.robustness:
        add_robustness(outcome, tables, settings)
    result = without_nan(result)
    if result["problems"] and not force:
        raise UnreliableResult(unreliable_line("law", result["problems"]) + "; --force shows it anyway")
    if save:
        write_atomic(Path(save), json.dumps(result, indent=2))
    click.echo(json.dumps(result, indent=2) if as_json else describe(result))


def _study(source: str):
    """A study folder's kind and records (the store is opened here, at the edge), or None for a table file."""
    from ..results.store import Store

    if not Path(source).is_dir():
        return None
    with Store(source, create=False) as store:
        return store.study_kind(), store.records()


LAW_HELP = "a published law (chinchilla, epoch, datablations) or a fit saved by isoflop fit --save"


@click.command()
@click.option("--flops", type=float, required=True, help="compute budget C in FLOPs")
@click.option("--unique-tokens", type=float, default=None, help="cap on unique training tokens U")
@click.option("--law", "--fit", "law_spec", required=True, help=LAW_HELP)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.option("--force", is_flag=True, help="advise from a fit that was saved as unreliable")
def advise(flops: float, unique_tokens: float | None, law_spec: str, as_json: bool, force: bool) -> None:
    """Recommend N, D and epochs for a budget from a law, with the predicted loss.

    Compute is converted to N and D with the law's own FLOP convention (6N for published laws)."""
    from ..fit.advice import advise as make_advice
    from ..fit.advice import advise_allocation
    from ..fit.api import without_nan
    from ..fit.laws import load_law

    _positive(("--flops", flops), ("--unique-tokens", unique_tokens))
    loaded = load_law(law_spec, force)
    if loaded.allocation is None:
        advice = make_advice(loaded, flops, unique_tokens)
    elif unique_tokens is not None:
        raise UsageError("--unique-tokens needs an L(N, D) law (isoflop fit --approach 3 --save); this fit holds N*(C) only")
    else:
        try:
            advice = advise_allocation(loaded.allocation, flops, loaded.count, loaded.fitted_range)
        except (KeyError, TypeError, ValueError) as error:
            raise UsageError(f"{law_spec} holds no complete N*(C) fit ({first_line(error)}); save one with isoflop fit --save") from None
    if not (advice.parameters >= 1 and advice.tokens >= 1 and (advice.loss is None or math.isfinite(advice.loss))):
        raise UsageError(
            f"at C = {flops:.3g} FLOPs this law recommends {advice.parameters:.3g} parameters and {advice.tokens:.3g} tokens: "
            "the budget lies far outside what the law describes; ask for a budget near the range it was fitted on"
        )
    if as_json:
        click.echo(json.dumps(without_nan({"law": loaded.label, **advice.as_dict()}), indent=2))
        return
    click.echo(f"for C = {flops:.3g} FLOPs: N = {advice.parameters:.3g} parameters, D = {advice.tokens:.3g} tokens"
               + (f" ({advice.epochs:.2f} epochs of {unique_tokens:.3g} unique tokens)" if advice.epochs else ""))
    if advice.loss is not None:
        click.echo(f"predicted loss {advice.loss:.4f} {_loss_interval(advice.loss_interval)}")
    click.echo(f"law: {loaded.label}")
    click.echo(f"found by {advice.method}")
    if loaded.problems:
        click.echo("note: UNRELIABLE law (--force): " + "; ".join(loaded.problems))
    for note in advice.notes:
        click.echo(f"note: {note}")


@click.command()
@click.option("--law", "law_spec", required=True, help=LAW_HELP)
@click.option("--params", type=float, required=True, help="model parameters N")
@click.option("--tokens", type=float, required=True, help="training tokens D")
@click.option("--unique-tokens", type=float, default=None, help="unique tokens U among them (default: D, no repetition)")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.option("--force", is_flag=True, help="predict from a fit that was saved as unreliable")
def predict(law_spec: str, params: float, tokens: float, unique_tokens: float | None, as_json: bool, force: bool) -> None:
    """Predict the loss of N parameters trained on D tokens (U unique) under a law."""
    from ..fit.api import without_nan
    from ..fit.laws import load_law

    _positive(("--params", params), ("--tokens", tokens), ("--unique-tokens", unique_tokens))
    if unique_tokens is not None and unique_tokens > tokens:
        raise UsageError(f"--unique-tokens {unique_tokens:.6g} exceeds --tokens {tokens:.6g}: a run cannot see more unique tokens than it trains on")
    loaded = load_law(law_spec, force)
    loss_of, interval_of = loaded.predictor(unique_tokens)
    loss, interval = float(loss_of(params, tokens)), interval_of(params, tokens)
    if not math.isfinite(loss):
        raise UsageError(f"the law gives no finite loss at N = {params:.3g}, D = {tokens:.3g}; ask for values near its fitted range")
    notes = loaded.repetition_notes(unique_tokens)
    if as_json:
        click.echo(json.dumps(without_nan({"law": loaded.label, "N": params, "D": tokens, "U": unique_tokens, "loss": loss,
                                           "loss_interval": list(interval) if interval else None, "notes": notes}),
                              indent=2))
        return
    epochs = f" ({tokens / unique_tokens:.3g} epochs of {unique_tokens:.3g} unique tokens)" if unique_tokens else ""
    click.echo(f"N = {params:.4g} parameters, D = {tokens:.4g} tokens{epochs}: predicted loss {loss!r} {_loss_interval(interval)}")
    click.echo(f"law: {loaded.label}")
    for note in notes:
        click.echo(f"note: {note}")


def _loss_interval(interval) -> str:
    if interval is None:
        return "(no interval: the law has no bootstrap samples)"
    return f"[{interval[0]:.4f}, {interval[1]:.4f}]"


def _positive(*options) -> None:
    for name, value in options:
        if value is not None and not (math.isfinite(value) and value > 0):
            raise UsageError(f"{name} must be a positive finite number, got {value}")
