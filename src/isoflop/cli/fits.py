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
@click.option("--approach", type=click.Choice(["1", "2", "3", "constrained", "finetune"]), default="3",
              help="Hoffmann et al.'s approach; constrained: the data-constrained law of Muennighoff et al. (columns N, D, "
                   "U, loss); finetune: the fine-tuning law L(D) of one pretrained model (columns D, loss)")
@click.option("--base", default=None, help="--approach constrained: freeze E, A, B, α, β to this law (" + "a published law "
              "(chinchilla, epoch, datablations) or a saved fit) and fit only R_D*, R_N* [default: fit all jointly]")
@click.option("--params", type=click.Choice(["total", "non-embedding"]), default=None,
              help="what N counts: for a study folder, the headline count (default total; the other is fitted beside it); "
                   "for a CSV, what its N column holds (recorded in the law's provenance)")
@click.option("--params-columns", default=None,
              help="a CSV with both parameter counts, e.g. total=N,non-embedding=N_nonemb: the first is the headline, "
                   "the other is fitted beside it, as for a study folder")
@click.option("--columns", default=None, help="which header holds which column, e.g. N=params,D=tokens,loss=val")
@click.option("--where", multiple=True, help="COLUMN=VALUE: fit only the rows where COLUMN holds VALUE (repeatable): "
              "one ladder or one model from a CSV of many")
@click.option("--minima", is_flag=True, help="--approach 2: each row is one budget's compute-optimal point (columns C, N, "
              "loss; D optional), as ladders are often published")
@click.option("--dedupe", is_flag=True, help="drop rows that repeat an earlier row exactly")
@click.option("--json", "as_json", is_flag=True, help="print the fitted values and intervals as JSON")
@click.option("--save", type=click.Path(dir_okay=False), default=None, help="write the fit as JSON (for isoflop advise)")
@click.option("--flop-convention", type=click.Choice(["6N", "table"]), default=None,
              help="how a CSV's compute is counted: 6N (C = 6ND, the default) or table (FLOPs per token = C / D from its C column); "
                   "a study folder uses its own")
@click.option("--force", is_flag=True, help=FORCE_HELP)
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="draw the fit to this .png or .svg: approach 2's isoFLOP profiles (each budget's parabola and "
                   "minimum), approach 3's loss contours with the compute-optimal path")
@part_options(FitConfig, strip=FLAG_PREFIX)
def fit(source: str, approach: str, base: str | None, params: str | None, params_columns: str | None,
        columns: str | None, where: tuple[str, ...], minima: bool, dedupe: bool, as_json: bool, save: str | None,
        flop_convention: str | None, force: bool, plot: str | None, **fit_options: Any) -> None:
    """Fit a scaling law to SOURCE: a CSV or TSV with N, D, loss (optional C, U, seed; aliases such as params,
    tokens, flops, val_loss are understood) or an isoflops results folder."""
    from ..config.load import build_part
    from ..fit.api import add_other_count, add_robustness, add_window_effect, fit_outcome, without_nan
    from ..fit.checks import unreliable_line
    from ..fit.points import fit_table_from
    from ..fit.settings import FitSettings
    from ..fit.table import parse_mapping, parse_where
    from .fit_text import describe

    if save and not Path(save).resolve().parent.is_dir():
        raise UsageError(f"--save {save!r}: its folder does not exist; create it or choose another path")
    if plot:
        _check_plot(plot, approach, minima)
    settings = FitSettings(approach=int(approach) if approach.isdigit() else approach, base=base, progress=not as_json,
                           config=build_part(FitConfig, fit_options, strip=FLAG_PREFIX))
    mapping, selection = parse_mapping(columns), parse_where(where)
    study = _study(source, selection)
    if study is not None:
        folder = Path(source).is_dir()
        refused = [flag for flag, given in (("--where", where and folder), ("--minima", minima),
                                            ("--params-columns", params_columns), ("--approach finetune", approach == "finetune"))
                   if given]
        if refused:
            what = "a study folder" if folder else "an isoflop show --csv export (read as its study)"
            raise UsageError(f"{source!r} is {what}: {', '.join(refused)} {'reads' if len(refused) == 1 else 'read'} "
                             "other tables; drop them")
    if approach == "finetune":
        result = _finetune(source, mapping, selection, settings)
        _emit(result, as_json, save, describe_finetune(result))
        return
    if minima:
        result = _minima(source, mapping, selection, flop_convention, params, settings)
        _emit(result, as_json, save, describe(result))
        return
    counts = _parameter_columns(params_columns, mapping, params)
    headline = next(iter(counts))
    table, source_facts = fit_table_from(source, curves=approach == "1", convention=flop_convention,
                                         mapping=counts[headline][0], dedupe=dedupe, count=counts[headline][1],
                                         study=study, where=selection)
    outcome = fit_outcome(table, settings, source_facts)
    add_window_effect(outcome, table, settings)
    result, tables = outcome.result, {table.parameter_count or "given": table}
    if study is not None and settings.approach in (1, 2, 3):  # a study folder: both parameter counts, always
        other = "non-embedding" if table.parameter_count == "total" else "total"
        tables[other] = fit_table_from(source, curves=approach == "1", count=other, study=study)[0]
        add_other_count(result, table, tables[other], settings)
    elif len(counts) == 2 and settings.approach in (1, 2, 3):
        other = list(counts)[1]
        tables[other] = fit_table_from(source, curves=approach == "1", convention=flop_convention, mapping=counts[other][0],
                                       dedupe=dedupe, count=counts[other][1], where=selection)[0]
        add_other_count(result, table, tables[other], settings)
    if settings.config.robustness:
        add_robustness(outcome, tables, settings)
    result = without_nan(result)
    if result["problems"] and not force:
        raise UnreliableResult(unreliable_line("law", result["problems"]) + "; --force shows it anyway")
    _emit(result, as_json, save, None)
    if plot:
        _draw(outcome, table, Path(plot))
        click.echo(f"plot: {plot}", err=True)


def _check_plot(plot: str, approach: str, minima: bool) -> None:
    """Before any fit: a plot this fit can draw, to a file that can be written."""
    path = Path(plot)
    if path.suffix not in (".png", ".svg"):
        raise UsageError(f"--plot {plot!r}: give a .png or .svg file")
    if approach not in ("2", "3") or minima:
        raise UsageError("--plot draws approach 2 from runs (isoFLOP profiles) or approach 3 (loss contours); drop it "
                         "for this fit")
    if not path.resolve().parent.is_dir():
        raise UsageError(f"--plot {plot!r}: its folder does not exist; create it or choose another path")


def _draw(outcome, table, path: Path) -> None:
    """Approach 2's profiles or approach 3's contours, drawn as the study report draws them, written atomically."""
    import tempfile

    from ..files import write_atomic
    from ..report.isoflop_plots import plot_contours, plot_profiles

    with tempfile.TemporaryDirectory() as folder:
        if outcome.law is not None:
            drawn = plot_contours(outcome.law, table, Path(folder))
        else:
            drawn = plot_profiles(table, table.budgets(), outcome.allocation, Path(folder))
        write_atomic(path, drawn.with_suffix(path.suffix).read_bytes())


def _emit(result: dict, as_json: bool, save: str | None, text: str | None) -> None:
    """Save the law (atomically) and print it as JSON or as lines."""
    from ..files import write_atomic
    from ..fit.api import without_nan
    from .fit_text import describe

    result = without_nan(result)
    if save:
        write_atomic(Path(save), json.dumps(result, indent=2))
    click.echo(json.dumps(result, indent=2) if as_json else (text if text is not None else describe(result)))


def _parameter_columns(text: str | None, mapping: dict, params: str | None) -> dict[str, tuple[dict, str | None]]:
    """``--params-columns total=N,non-embedding=N_nonemb`` → each count's column mapping, headline first."""
    if not text:
        return {params or "given": (mapping, params)}
    if params or "N" in mapping:
        raise UsageError("--params-columns names the N columns itself; drop --params and the N of --columns")
    counts = {}
    for part in text.split(","):
        count, _, header = (piece.strip() for piece in part.partition("="))
        if count not in ("total", "non-embedding") or not header or count in counts:
            raise UsageError(f"--params-columns {text!r}: give total=HEADER,non-embedding=HEADER (each once)")
        counts[count] = ({**mapping, "N": header}, count)
    return counts


def _minima(source: str, mapping: dict, selection: dict, convention: str | None, params: str | None, settings) -> dict:
    """``--minima``: approach 2's law from one compute-optimal row per budget."""
    from ..fit.allocation_law import fit_minima
    from ..fit.api import fitted_range, library_version
    from ..fit.powerlaw import fit_power_law
    from ..fit.table import read_table

    if settings.approach != 2:
        raise UsageError("--minima fits approach 2's frontier from per-budget minima; use it with --approach 2")
    table, origin = read_table(source, convention or "6N", mapping, where=selection, minima=True)
    count = table.flop_count if convention != "table" else None
    law = fit_minima(table.C, table.N, table.loss, table.D, count, params or "not stated",
                     settings.config.fit_allocation_resamples, settings.config.fit_seed)
    interval = law.size.conf_int()["k*x^a"]["exponent"][1]
    d_law = fit_power_law([m.flops for m in law.minima], [m.d_opt for m in law.minima], bootstrap=0)
    return {"approach": 2, "input": "minima", "points": int(len(table.N)), "range": fitted_range(table),
            "flops": table.flop_count.as_dict(), "parameters": params or "not stated",
            "minima": [{"C": m.flops, "N_opt": m.n_opt, "D_opt": m.d_opt, "loss": m.loss,
                        "flop_factor": m.flops / (m.n_opt * m.d_opt)} for m in law.minima],
            "N_opt": {"coefficient": law.size.fits[0].params[0], "exponent": law.size.fits[0].params[1],
                      "exponent_interval": list(interval) if interval else [None, None]},
            "D_opt": d_law.as_dict(),
            "forecast": law.to_dict(), "problems": [], "warnings": [],
            "provenance": {"isoflop": library_version(), "input": {"source": source, "rows": origin.rows, "selected": origin.selected,
                                                              "sha256": origin.sha256, "columns": origin.columns,
                                                              "where": selection},
                           "settings": settings.as_dict()}}


def _finetune(source: str, mapping: dict, selection: dict, settings) -> dict:
    """``--approach finetune``: the fine-tuning law of one model from a CSV of data sizes and losses."""
    import hashlib

    import numpy as np

    from ..fit.api import library_version
    from ..fit.finetune import fit_finetune
    from ..fit.table import read_columns

    columns, found, raw, rows = read_columns(source, ("D", "loss"), (), mapping, selection)
    samples, loss = columns["D"], columns["loss"]
    if (samples <= 0).any():
        raise UsageError(f"{source!r}: the fine-tuning law needs D > 0 in every row (leave out the model before fine-tuning, "
                         "D = 0, e.g. with --where)")
    if len(np.unique(samples)) != len(samples):
        raise UsageError(f"{source!r}: a data size appears in several rows; pick one model with --where COLUMN=VALUE, or "
                         "average its seeds first")
    law = fit_finetune(samples, loss, settings.config.fit_allocation_resamples, settings.config.fit_seed)
    return {"approach": "finetune", "points": int(len(samples)), "finetune": law.to_dict(), "problems": [], "warnings": [],
            "provenance": {"isoflop": library_version(), "input": {"source": source, "rows": rows, "selected": int(len(samples)),
                                                              "sha256": hashlib.sha256(raw).hexdigest(), "columns": found,
                                                              "where": selection},
                           "settings": settings.as_dict()}}


def describe_finetune(result: dict) -> str:
    from ..fit.finetune import FinetuneLaw

    law = FinetuneLaw.from_dict(result["finetune"])
    top = law.law.x[-1]
    return "\n".join([law.summary(), "  " + law.predict(top).describe(), "  " + law.predict(top, "new run").describe(),
                      f"  interval: {law.predict(top).method}"])


def _study(source: str, where: dict[str, str]):
    """A study folder's kind and records (the store is opened here, at the edge) or those of an ``isoflop show --csv``
    export (its rows picked by ``where``), or None for any other table file."""
    from ..results.exports import read_export
    from ..results.store import Store

    if Path(source).is_file():
        return read_export(source, where)
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
    from ..fit.advice import advise_allocation, refuse_blind
    from ..fit.api import without_nan
    from ..fit.laws import load_law

    _positive(("--flops", flops), ("--unique-tokens", unique_tokens))
    loaded = load_law(law_spec, force)
    if loaded.finetune is not None:
        raise UsageError(f"{law_spec} is a fine-tuning law L(D): it forecasts a loss at a data size, not an allocation; "
                         "use isoflop predict --law LAW --samples D")
    if loaded.forecast is not None:
        if unique_tokens is not None:
            raise UsageError("--unique-tokens needs an L(N, D) law (isoflop fit --approach 3 --save); this fit holds N*(C) only")
        _advise_forecast(loaded, flops, as_json)
        return
    if loaded.allocation is None:
        advice = make_advice(loaded, flops, unique_tokens)
        if not force:
            refuse_blind(loaded, advice.loss, f"C = {flops:.3g}")
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


def _advise_forecast(loaded, flops: float, as_json: bool) -> None:
    """Advice from approach 2's forecasting law: N*, D*, L* and a new run's loss, each with its interval."""
    from ..fit.api import without_nan

    law = loaded.forecast
    size, tokens, best = law.optimal_size(flops), law.optimal_tokens(flops), law.predict(flops)
    run = law.predict(flops, "new run") if law.frontier.run_sigma is not None else None
    if as_json:
        forecasts = {"N": size, "D": tokens, "loss": best, "new_run_loss": run}
        flat = {key: forecast.value for key, forecast in forecasts.items() if forecast is not None}
        intervals = {f"{key}_interval": list(f.interval) if f.interval else None for key, f in forecasts.items() if f is not None}
        click.echo(json.dumps(without_nan({"law": loaded.label, "C": flops, **flat, **intervals, "epochs": None,
                                           "method": best.method, "parameters": law.parameters,
                                           "forecasts": {key: f.as_dict() for key, f in forecasts.items() if f is not None}}),
                              indent=2))
        return
    where = ("inside the budgets the law was fitted on" if best.extrapolation == 0 else
             f"{best.extrapolation:.2f} fitted log-ranges beyond the budgets the law was fitted on: an extrapolation")
    click.echo(f"for C = {flops:.3g} FLOPs ({where}):")
    counted = ("what N counts was not stated (isoflop fit --params)" if law.parameters == "not stated"
               else f"counted as {law.parameters} parameters")
    click.echo(f"  N* = {size.value:.3g} {_span(size.interval, '.3g')} parameters, {counted}")
    click.echo(f"  D* = {tokens.value:.3g} {_span(tokens.interval, '.3g')} tokens ({law.conventions['flops']})")
    click.echo(f"  compute-optimal loss L*(C) = {best.value:.4f} {_span(best.interval, '.4f')}: "
               f"{best.level:.0%} interval for the law's value")
    if run is not None:
        click.echo(f"  a new run at N*: {run.value:.4f} {_span(run.interval, '.4f')}: {run.level:.0%} interval for the loss "
                   "one run will measure")
    click.echo(f"  intervals: {best.method}")
    click.echo(f"law: {loaded.label} (approach 2 from {law.source})")
    if loaded.problems:
        click.echo("note: UNRELIABLE law (--force): " + "; ".join(loaded.problems))
    for note in best.notes + law.notes:
        click.echo(f"note: {note}")


def _span(interval, spec: str) -> str:
    return f"[{interval[0]:{spec}}, {interval[1]:{spec}}]" if interval else "(no interval)"


@click.command()
@click.option("--law", "law_spec", required=True, help=LAW_HELP + ", or a fine-tuning law (isoflop fit --approach finetune --save)")
@click.option("--params", type=float, default=None, help="model parameters N")
@click.option("--tokens", type=float, default=None, help="training tokens D (an L(N, D) law)")
@click.option("--flops", type=float, default=None, help="compute budget C: with --params, the loss of that size at that "
              "budget from an approach-2 law")
@click.option("--samples", type=float, default=None, help="fine-tuning data size D, for a fine-tuning law")
@click.option("--unique-tokens", type=float, default=None, help="unique tokens U among them (default: D, no repetition)")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.option("--force", is_flag=True, help="predict from a fit that was saved as unreliable")
def predict(law_spec: str, params: float | None, tokens: float | None, flops: float | None, samples: float | None,
            unique_tokens: float | None, as_json: bool, force: bool) -> None:
    """Predict a loss under a law: of N parameters trained on D tokens (U unique) under L(N, D); of N parameters at a
    budget C under an approach-2 law; or after fine-tuning on D samples under a fine-tuning law."""
    from ..fit.advice import refuse_blind
    from ..fit.api import without_nan
    from ..fit.laws import load_law

    _positive(("--params", params), ("--tokens", tokens), ("--flops", flops), ("--samples", samples),
              ("--unique-tokens", unique_tokens))
    loaded = load_law(law_spec, force)
    if loaded.finetune is not None or loaded.forecast is not None:
        forecasts = _forecasts(loaded, law_spec, params, tokens, flops, samples, unique_tokens)
        if as_json:
            click.echo(json.dumps(without_nan({"law": loaded.label, "forecasts": [f.as_dict() for f in forecasts]}), indent=2))
            return
        for forecast in forecasts:
            click.echo(forecast.describe())
        click.echo(f"interval: {forecasts[0].method}")
        click.echo(f"law: {loaded.label}")
        return
    if samples is not None or flops is not None:
        raise UsageError(f"{law_spec} is an L(N, D) law: give --params and --tokens (--samples is for a fine-tuning law, "
                         "--flops for an approach-2 law)")
    if params is None or tokens is None:
        raise UsageError("an L(N, D) law needs --params and --tokens")
    if unique_tokens is not None and unique_tokens > tokens:
        raise UsageError(f"--unique-tokens {unique_tokens:.6g} exceeds --tokens {tokens:.6g}: a run cannot see more unique tokens than it trains on")
    loss_of, interval_of = loaded.predictor(unique_tokens)
    loss, interval = float(loss_of(params, tokens)), interval_of(params, tokens)
    if not math.isfinite(loss):
        raise UsageError(f"the law gives no finite loss at N = {params:.3g}, D = {tokens:.3g}; ask for values near its fitted range")
    if not force and unique_tokens is None:
        refuse_blind(loaded, loss, f"N = {params:.3g}, D = {tokens:.3g}")
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


def _forecasts(loaded, law_spec, params, tokens, flops, samples, unique_tokens) -> list:
    """The law's value and a new run's loss where the law forecasts with ``fit.forecast`` (fine-tuning, approach 2)."""
    if unique_tokens is not None:
        raise UsageError(f"--unique-tokens needs a data-constrained or L(N, D) law; {law_spec} has no repetition terms")
    if loaded.finetune is not None:
        if samples is None or params is not None or tokens is not None or flops is not None:
            raise UsageError(f"{law_spec} is a fine-tuning law L(D): give --samples (the fine-tuning data size) alone")
        return [loaded.finetune.predict(samples, kind) for kind in ("law", "new run")]
    law = loaded.forecast
    if samples is not None or params is None or (flops is None) == (tokens is None):
        raise UsageError(f"{law_spec} is an approach-2 law: give --params with --flops (or with --tokens, the budget then "
                         "counted from them)")
    if flops is None:
        if law.count is None:
            raise UsageError(f"{law_spec} was fitted on C as given, with no FLOP count to turn --tokens into a budget; give --flops")
        flops = float(law.count.flops(params, tokens))
    kinds = ("law", "new run") if law.frontier.run_sigma is not None else ("law",)
    return [law.loss_at(params, flops, kind) for kind in kinds]


def _loss_interval(interval) -> str:
    if interval is None:
        return "(no interval: the law has no bootstrap samples)"
    return f"[{interval[0]:.4f}, {interval[1]:.4f}]"


def _positive(*options) -> None:
    for name, value in options:
        if value is not None and not (math.isfinite(value) and value > 0):
            raise UsageError(f"{name} must be a positive finite number, got {value}")
