"""One entry point per fit request: a table in, a JSON-ready result out (used by the CLI and studies)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UsageError
from .advice import compute_optimal
from .allocation_law import AllocationLaw, fit_allocation, windowed
from .budgets import group_budgets, grouping_hint
from .checks import (
    allocation_problems,
    chinchilla_problems,
    conditioning_warning,
    fit_warnings,
    frontier_problems,
    input_warnings,
)
from .chinchilla import ChinchillaLaw, fit_chinchilla
from .constrained import fit_constrained
from .holdout import Holdout, holdout_largest
from .isoflop_profiles import (
    AllocationFit,
    Frontier,
    approach1,
    approach2,
    fit_frontier,
)
from .laws import load_law
from .leave_one_out import leave_one_budget_out
from .resampling import allocation_intervals, resampled_fits
from .robustness import robustness_panel
from .settings import FitSettings
from .table import FitTable
from .varpro import fit_varpro

APPROACHES = (1, 2, 3, "constrained")


def fitted_range(table: FitTable) -> dict[str, list[float]]:
    """The range of N, D and C the fit saw (a forecast outside it is an extrapolation)."""
    budgets = table.budgets()
    return {
        "N": [float(table.N.min()), float(table.N.max())],
        "D": [float(table.D.min()), float(table.D.max())],
        "C": [float(budgets.min()), float(budgets.max())],
    }


@dataclass
class FitOutcome:
    """A fit as JSON-ready ``result`` (what ``isoflop fit`` prints and saves) and as the objects behind it (for plots)."""

    result: dict[str, Any]
    allocation: AllocationFit | None = None
    frontier: Frontier | None = None
    law: ChinchillaLaw | None = None
    holdout: Holdout | None = None
    forecast: AllocationLaw | None = None  # approach 2's forecasting law


def run_fit(table: FitTable, settings: FitSettings = FitSettings(), source: dict | None = None) -> dict[str, Any]:
    """The fit as a JSON-ready dict: values, intervals, problems (a degenerate fit), warnings and provenance."""
    return fit_outcome(table, settings, source).result


def fit_outcome(table: FitTable, settings: FitSettings = FitSettings(), source: dict | None = None) -> FitOutcome:
    """The one fit sequence behind ``isoflop fit`` and the study reports: which points each approach uses,
    problems, the frontier, the hold-out and leave-one-budget-out."""
    approach = settings.approach
    if approach not in APPROACHES:
        raise UsageError(f"unknown approach {approach}; choose 1, 2, 3 or constrained")
    if settings.config.holdout_largest and approach != 2:
        raise UsageError("--holdout-largest checks approach 2's frontier; use it with --approach 2")
    if (settings.config.leave_one_out or settings.config.robustness) and approach not in (2, 3):
        raise UsageError("--leave-one-out and --robustness refit approach 2 or 3; use them with --approach 2 or 3")
    if settings.config.fit_method != "huber" and approach != 3:
        raise UsageError("--method varpro fits approach 3; use it with --approach 3")
    if settings.base and approach != "constrained":
        raise UsageError("--base freezes the law of a data-constrained fit; use it with --approach constrained")
    result: dict[str, Any] = {"approach": approach, "points": int(len(table.N)), "range": fitted_range(table),
                              "flops": table.flop_count.as_dict(), "parameters": table.parameter_count or "not stated"}
    outcome = FitOutcome(result)
    problems: list[str] = []
    notes = input_warnings(table, source or {}, settings.objective.parameters if approach == 3 else None)
    if approach == 1:
        allocation = approach1(table.N, table.D, table.loss, table.budgets())
        result.update(allocation.as_dict())
        problems += allocation_problems(allocation)
    elif approach == 2:
        problems += _approach2(table, settings, outcome)
    elif approach == "constrained":
        result["constrained"] = _constrained(table, settings).as_dict()
        result["points_used"] = {"constrained": int(len(table.N))}
    else:
        found, warned = _approach3(table, settings, outcome)
        problems, notes = problems + found, notes + warned
    if settings.config.leave_one_out:
        # Budgets grouped for both approaches: a measured C column (never repeating exactly) would leave out single runs.
        budgets = _grouped_budgets(table, settings)[0]
        used = _fresh_points(table) if approach == 3 else np.ones(len(table.N), dtype=bool)
        try:
            result["leave_one_out"] = leave_one_budget_out(
                table.subset(used), approach, budgets[used], law=outcome.law, objective=settings.objective).as_dict()
            if approach == 3:
                problems += _spread_problem(result["leave_one_out"], outcome.law, table.flop_count)
        except UsageError as error:
            result["leave_one_out_not_run"] = str(error)
    result["problems"] = problems
    result["warnings"] = notes
    result["provenance"] = {"isoflop": library_version(), "input": source or {}, "settings": settings.as_dict()}
    return outcome


# Why the headline counts total parameters, in one sentence (the report and isoflop fit both say it).
HEADLINE_WHY = ("N counts total parameters, as Chinchilla does: C counts the FLOPs of the embeddings and the LM head "
                "too, and fitting non-embedding N against such a C pushes the exponent of N* up at small scale, where "
                "embeddings are much of a model (Pearce & Song 2024)")
# An embedding share above this makes the two counts' laws differ visibly.
EMBEDDING_SHARE_WARNING = 0.25


def add_robustness(outcome: FitOutcome, tables: dict[str, FitTable], settings: FitSettings) -> None:
    """The robustness panel of the headline table (the first of ``tables``) into ``outcome.result``, reusing the
    approach-3 laws already fitted (the headline's, and the other count's when ``add_other_count`` ran)."""
    headline = next(iter(tables))
    other = outcome.result.get("other_count", {})
    laws = {headline: outcome.law} | ({other["parameters"]: ChinchillaLaw.from_dict(other["law"])} if "law" in other else {})
    try:
        outcome.result["robustness"] = robustness_panel(
            tables, _grouped_budgets(tables[headline], settings)[0], headline, settings.objective, laws,
            approach3_reliable=not (outcome.law is not None and outcome.result.get("problems")), grid=settings.start_grid)
    except UsageError as error:
        outcome.result["robustness_not_run"] = str(error)


def add_other_count(result: dict[str, Any], table: FitTable, other: FitTable, settings: FitSettings) -> None:
    """Fit ``other`` (the same runs with N under the other parameter count) and put it beside ``result``, with each
    trained size's embedding share; warn where embeddings are over a quarter of a model."""
    beside = fit_outcome(other, dataclasses.replace(settings, progress=False, forecast=False)).result
    result["other_count"] = {key: value for key, value in beside.items() if key != "provenance"}
    totals, inner = (table.N, other.N) if table.parameter_count == "total" else (other.N, table.N)
    pairs = sorted({(float(t), float(n)) for t, n in zip(totals, inner)})
    result["embedding_shares"] = [{"total": t, "non_embedding": n, "embedding_share": 1 - n / t} for t, n in pairs]
    heavy = [p for p in result["embedding_shares"] if p["embedding_share"] > EMBEDDING_SHARE_WARNING]
    if heavy:
        result["warnings"].append(
            f"embeddings are over {EMBEDDING_SHARE_WARNING:.0%} of {len(heavy)} of the {len(pairs)} trained sizes "
            f"(up to {max(p['embedding_share'] for p in heavy):.0%}): the laws under total and non-embedding N differ, "
            "both are shown")


def _grouped_budgets(table: FitTable, settings: FitSettings):
    return group_budgets(table.budgets(), settings.config.fit_budget_tolerance, settings.config.fit_budgets)


def _approach2(table: FitTable, settings: FitSettings, outcome: FitOutcome) -> list[str]:
    """Approach 2 into ``outcome``: the per-budget minima, N*(C) and D*(C), the frontier and the hold-out; the problems."""
    result = outcome.result
    budgets, groups = _grouped_budgets(table, settings)
    window = settings.config.fit_window
    if window:
        kept = windowed(table.N, table.loss, budgets, window)
        result["window"] = {"sizes": window, "points_dropped": int((~kept).sum())}
        table, budgets = table.subset(kept), budgets[kept]
    result["budget_groups"] = groups
    try:
        # a and b's intervals come from configuration resamples below (none with 0 of them), never from the minima
        # bootstrap, which covered 77-79 % of a nominal 95 %.
        allocation = approach2(table.N, table.D, table.loss, budgets, table.budget_count(), bootstrap=0)
    except UsageError as error:
        spaced = np.diff(np.log(sorted(g["C"] for g in groups)))
        if all(g["points"] == 1 for g in groups) and (spaced > np.log(1 + MINIMA_SPACING)).all():
            raise UsageError("every budget has a single row: these look like per-budget minima (C, N*, L*); fit them with "
                             "minima=True (isoflop fit --minima)") from None
        hint = grouping_hint(groups, len(table.N), settings.config.fit_budget_tolerance)
        raise (hint or UsageError(str(error))) from None
    problems = allocation_problems(allocation)
    if len(allocation.minima) >= 3:
        losses = [m.loss for m in allocation.minima]
        outcome.frontier = fit_frontier([m.flops for m in allocation.minima], losses)
        result["frontier"] = outcome.frontier.as_dict()
        problems += frontier_problems(outcome.frontier, losses)
    form = outcome.frontier.power_law if outcome.frontier is not None else None
    resamples, seed = settings.config.fit_allocation_resamples, settings.config.fit_seed
    # One set of configuration resamples behind a and b's intervals and the forecast (each refit is approach 2 again).
    fits = resampled_fits(table.N, table.D, table.loss, budgets, table.budget_count(), resamples, seed) if resamples else []
    if resamples:
        # Intervals from resampled runs, studentized (fit.resampling): the minima bootstrap covered 77-84 % of a
        # nominal 95 % on the default study's design, these 90-93 % (benchmarks/coverage.py).
        found = allocation_intervals(table.N, table.D, table.loss, budgets, table.budget_count(), resamples, seed,
                                     power_law=form, frontier=outcome.frontier is not None, fits=fits)
        allocation = dataclasses.replace(
            allocation, n_law=dataclasses.replace(allocation.n_law, exponent_interval=found.a),
            d_law=dataclasses.replace(allocation.d_law, exponent_interval=found.b))
        result["allocation_intervals"] = found.as_dict()
    outcome.allocation = allocation
    result.update(allocation.as_dict())
    if allocation.skipped:  # a budget without a minimum informs no forecast: the fitted range is the minima's
        fitted = [m.flops for m in allocation.minima]
        result["range"]["C"] = [float(min(fitted)), float(max(fitted))]
    if settings.forecast:
        _forecast(table, budgets, settings, outcome, fits)
    if settings.config.holdout_largest:
        try:
            outcome.holdout = holdout_largest(table.N, table.D, table.loss, budgets, table.budget_count(),
                                              resamples=resamples, seed=seed)
            result["holdout"] = outcome.holdout.as_dict()
        except UsageError as error:
            result["holdout_not_run"] = str(error)
    return problems


# One row per budget, each budget this far from the next (relative): minima, not C values that barely repeat (the
# grouping hint suggests a tolerance of 0.2 for those, which would not group these).
MINIMA_SPACING = 0.2


def _forecast(table: FitTable, budgets: np.ndarray, settings: FitSettings, outcome: FitOutcome, fits: list) -> None:
    """Approach 2's forecasting law (``fit.allocation_law``) into ``outcome``; with a window, how far it moved the
    forecast at the largest budget against every size."""
    config = settings.config
    try:
        outcome.forecast = fit_allocation(table.N, table.D, table.loss, budgets, table.budget_count(),
                                          table.parameter_count or "not stated", config.fit_allocation_resamples,
                                          config.fit_seed, fits=fits)
    except UsageError as error:
        outcome.result["forecast_not_run"] = str(error)
        return
    outcome.result["forecast"] = outcome.forecast.to_dict()


def join_approach3(second: FitOutcome, third: FitOutcome, table: FitTable, settings: FitSettings) -> None:
    """Refit approach 2's forecast with approach 3's law (fitted on the same runs) among L*(C)'s forms, where approach 3
    is identified (no problems); otherwise say beside the forecast why it did not join."""
    if second.forecast is None or third.law is None:
        return
    if third.result.get("problems"):
        second.result["forecast_approach3"] = "not identified on these runs: " + "; ".join(third.result["problems"])
        return
    config = settings.config
    budgets = _grouped_budgets(table, settings)[0]
    used = _fresh_points(table)
    second.forecast = fit_allocation(table.N[used], table.D[used], table.loss[used], budgets[used], table.budget_count(),
                                     table.parameter_count or "not stated", config.fit_allocation_resamples,
                                     config.fit_seed, config.fit_window, third.law, settings.objective)
    second.result["forecast"] = second.forecast.to_dict()
    second.result["forecast_approach3"] = "joined"


def add_window_effect(outcome: FitOutcome, table: FitTable, settings: FitSettings) -> None:
    """What ``--window`` moved: L* and N* at the largest budget with the window against every size."""
    if outcome.forecast is None or not settings.config.fit_window:
        return
    budgets = _grouped_budgets(table, settings)[0]
    try:
        every = fit_allocation(table.N, table.D, table.loss, budgets, table.budget_count(), resamples=0)
    except UsageError as error:
        outcome.result["window"]["effect_not_measured"] = str(error)
        return
    top = outcome.forecast.fitted_range[1]
    outcome.result["window"]["effect"] = {
        "C": top, "loss_change": float(outcome.forecast.frontier(top)[0] / every.frontier(top)[0] - 1),
        "N_opt_change": float(outcome.forecast.size(top)[0] / every.size(top)[0] - 1)}


def _spread_problem(loo: dict, law: ChinchillaLaw, count) -> list[str]:
    """Approach 3 is not to be trusted where leaving one budget out moves its forecast of the largest budget's L*
    further than the interval it reports there."""
    losses = [row["loss"] for row in loo["refits"]]
    if len(losses) < 2:
        return []
    n_opt, d_opt, _ = compute_optimal(law, loo["target_C"], count)
    interval = law.loss_interval(n_opt, d_opt)
    if interval is None or max(losses) - min(losses) <= interval[1] - interval[0]:
        return []
    return [f"its leave-one-budget-out forecasts of L*({loo['target_C']:.3g}) spread over [{min(losses):.4f}, "
            f"{max(losses):.4f}], wider than the interval it reports there [{interval[0]:.4f}, {interval[1]:.4f}]: the "
            "interval understates how much the forecast depends on the budgets; fit approach 2 for a forecast"]


def _fresh_points(table: FitTable) -> np.ndarray:
    """The points that do not repeat data (D ≤ U): L(N, D) is fitted on them, the data-constrained law on all."""
    if table.U is None:
        return np.ones(len(table.N), dtype=bool)
    fresh = table.D <= table.U * (1 + 1e-9)
    return fresh if fresh.sum() >= 5 else np.ones(len(table.N), dtype=bool)


def _approach3(table: FitTable, settings: FitSettings, outcome: FitOutcome) -> tuple[list[str], list[str]]:
    """Approach 3 into ``outcome`` (and the data-constrained law where points repeat data); problems and warnings."""
    result = outcome.result
    repeats = table.U is not None and bool((table.D > table.U * (1 + 1e-9)).any())
    fresh = _fresh_points(table)
    if settings.config.fit_method == "varpro":
        law = fit_varpro(table.N[fresh], table.D[fresh], table.loss[fresh], groups=_groups(table, fresh),
                         bootstrap=settings.config.fit_bootstrap, seed=settings.config.fit_seed)
    else:
        law = fit_chinchilla(table.N[fresh], table.D[fresh], table.loss[fresh], groups=_groups(table, fresh),
                             grid=settings.start_grid, bootstrap=settings.config.fit_bootstrap, objective=settings.objective,
                             seed=settings.config.fit_seed, progress=settings.progress)
    outcome.law = law
    result["law"] = law.as_dict()
    result["points_used"] = {"law": int(fresh.sum())}
    if not fresh.all():
        result["dropped"] = [{"points": int((~fresh).sum()), "from": "law",
                              "reason": "repeat data (D > U), so only the data-constrained fit uses them"}]
    grid = settings.start_grid
    problems = chinchilla_problems(law, table.N[fresh], table.D[fresh], table.loss[fresh], grid)
    if repeats:
        result["constrained"] = fit_constrained(table.N, table.D, table.U, table.loss, grid=settings.start_grid,
                                                bootstrap=settings.config.fit_bootstrap, seed=settings.config.fit_seed).as_dict()
        result["points_used"]["constrained"] = int(len(table.N))
    return problems, fit_warnings(law, grid) + conditioning_warning(law, table.N[fresh], table.D[fresh])


def _constrained(table: FitTable, settings: FitSettings):
    if table.U is None:
        raise UsageError("--approach constrained needs a U column (unique tokens of each run) besides N, D and loss")
    sizes, data, repeats = (len(np.unique(values)) for values in (table.N, table.D, np.round(table.D / table.U, 9)))
    if not settings.base and (sizes < 2 or data < 2):
        raise UsageError(f"the data-constrained law fits E, A, B, α and β jointly, which needs runs of at least 2 model "
                         f"sizes and 2 data sizes; these points have {sizes} and {data}: add runs, or freeze the law to "
                         "a base (--base datablations or a saved fit) and fit only the decay")
    if repeats < 2:
        raise UsageError("every point repeats its data the same number of times (D/U is one value), so nothing measures "
                         "what repetition costs; add runs at other numbers of epochs")
    base = None
    if settings.base:
        loaded = load_law(settings.base)
        if loaded.law is None:
            raise UsageError(f"--base {settings.base}: it holds N*(C) only; give a law with L(N, D) (approach 3) or a published law")
        base = loaded.constrained or loaded.law
    return fit_constrained(table.N, table.D, table.U, table.loss, base=base, base_name=settings.base,
                           bootstrap=settings.config.fit_bootstrap, seed=settings.config.fit_seed, grid=settings.start_grid, objective=settings.objective)


def library_version() -> str:
    from importlib import metadata

    return metadata.version("isoflop")


def _groups(table: FitTable, keep) -> np.ndarray | None:
    return None if table.seed is None else table.seed[keep]


def without_nan(value):
    """The result with every NaN or infinity replaced by None, so that its JSON is valid JSON."""
    if isinstance(value, dict):
        return {k: without_nan(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [without_nan(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
