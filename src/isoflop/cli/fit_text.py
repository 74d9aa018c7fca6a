"""isoflop fit's text: a fit's JSON-ready result (``fit.api``) in a few plain lines, made here at the edge."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..fit.allocation_law import AllocationLaw
from ..fit.api import HEADLINE_WHY
from ..fit.checks import unreliable_line
from ..fit.constrained import LOG_R_BOUNDS
from ..fit.holdout import Holdout
from ..fit.robustness import describe_panel


def describe(result: dict[str, Any]) -> str:
    """The fit in a few plain lines."""
    lines = []
    if result.get("problems"):
        lines.append("UNRELIABLE, shown because of --force: " + unreliable_line("law", result["problems"]))
    lines.append(f"approach {result['approach']} on {result['points']} points "
                 f"(N {_span(result['range']['N'])}, D {_span(result['range']['D'])}, C {_span(result['range']['C'])})")
    lines.append(f"compute counted as {result['flops']['description']}; N as {_count_words(result['parameters'])}")
    for drop in result.get("dropped", []):
        lines.append(f"{result['points_used']['law']} of {result['points']} points fit L(N, D): {drop['points']} {drop['reason']}")
    if "budget_groups" in result:
        groups = result["budget_groups"]
        shown = ", ".join(f"{g['C']:.3g} ({g['points']})" for g in groups[:8]) + (" …" if len(groups) > 8 else "")
        lines.append(f"budgets (points): {shown}")
    lines += _describe_law(result) + _describe_allocation(result) + describe_forecast(result)
    if "holdout" in result:
        lines.append("  " + Holdout.from_dict(result["holdout"]).sentence())
    for check in ("holdout", "leave_one_out", "robustness"):
        if f"{check}_not_run" in result:
            lines.append(f"  {check.replace('_', '-')} check not run: {result[f'{check}_not_run']}")
    if "leave_one_out" in result:
        lines += _describe_leave_one_out(result["leave_one_out"])
    if "constrained" in result:
        lines += _describe_constrained(result["constrained"])
    if "other_count" in result:
        lines += describe_counts(result)
    if "robustness" in result:
        lines += describe_panel(result["robustness"])
    lines += [f"warning: {warning}" for warning in result.get("warnings", [])]
    return "\n".join(lines)


def _describe_law(result: dict[str, Any]) -> list[str]:
    """Approach 3's lines: how it was fitted, the law with its intervals, the exponents it implies."""
    lines: list[str] = []
    if "law" in result:
        settings = result["provenance"]["settings"]
        convergence = result["law"]["convergence"]
        line = (f"objective: {settings['objective']['description']}; {convergence['starts']} starts screened, "
                f"{convergence['converged_starts']} of the {convergence['polished_starts']} best polished to convergence")
        if "resamples" in convergence:
            line += (f"; {convergence['converged_resamples']} of {convergence['resamples']} bootstrap resamples "
                     f"converged (seed {convergence['seed']})")
        lines.append(line)
    if "law" in result:
        law = result["law"]
        ci = law["intervals"]
        lines.append("L(N, D) = E + A/N^alpha + B/D^beta")
        for name in ("E", "A", "B", "alpha", "beta", "a", "b"):
            interval = f"  [{ci[name][0]:.4g}, {ci[name][1]:.4g}]" if name in ci else ""
            lines.append(f"  {name:>5} = {law[name]:.4g}{interval}")
        if law.get("sigma") is not None:
            lines.append(f"  sigma = {law['sigma']:.4g} (the fitted residual scale)")
        lines.append(f"  N*(C) ∝ C^{law['a']:.3f}, D*(C) ∝ C^{law['b']:.3f}")
    return lines


def _describe_allocation(result: dict[str, Any]) -> list[str]:
    """Approaches 1 and 2's lines: N*(C), D*(C), each budget's minimum, the frontier L*(C)."""
    lines: list[str] = []
    if "N_opt" in result:
        for key, symbol in (("N_opt", "N*"), ("D_opt", "D*")):
            law = result[key]
            lines.append(f"  {symbol}(C) = {law['coefficient']:.3g} · C^{law['exponent']:.3f}  {_interval(law['exponent_interval'], '.3f')}")
        for m in result["minima"]:
            sides = f" ({m['sizes_below']} sizes below, {m['sizes_above']} above)" if "sizes_below" in m and result["approach"] == 2 else ""
            lines.append(f"    C={m['C']:.3g}: N*={m['N_opt']:.3g}, D*={m['D_opt']:.3g}, L*={m['loss']:.4f}, "
                         f"k = C/(N*·D*) = {m['flop_factor']:.2f}{sides}")
        lines += [f"    skipped C={reason}: no minimum, so it neither informs the laws nor sets the fitted range"
                  for reason in result.get("skipped_budgets", [])]
    if "frontier" in result:
        f = result["frontier"]
        why = " (coefficients' intervals: percentiles of bootstrap resamples of the minima)"
        if not f["intervals"]:
            why = (" (no intervals: as many budgets as the law has parameters)" if len(result.get("minima", [])) <= 3
                   else " (no intervals: no usable bootstrap resample)")
        lines.append(f"  frontier {f['law']}{why}")
        resampled = result.get("allocation_intervals", {})
        if resampled and all(v is not None and np.isfinite(v) for v in resampled["loss_at_largest"]):
            lines.append(f"  L*({resampled['C']:.3g}) {_interval(resampled['loss_at_largest'], '.4f')} from resampled "
                         f"runs, studentized on {resampled['residual_freedom']} residual degrees of freedom (a and b's "
                         "intervals too)")
    return lines


def describe_forecast(result: dict[str, Any]) -> list[str]:
    """Approach 2's forecasting law: the frontier's forms and weights, the forecasts at the largest budget."""
    if "forecast_not_run" in result:
        return [f"  no forecast: {result['forecast_not_run']}"]
    if "forecast" not in result:
        return []
    law = AllocationLaw.from_dict(result["forecast"])
    lines = ["  forecast of L*(C): " + "; ".join(
        f"{fit.form} weight {fit.weight:.2f}" + ("" if fit.kappa2 is None else
                                                  f" (backtest error {np.sqrt(fit.kappa2):.2%} per fitted log-range)")
        for fit in law.frontier.fits)]
    top = law.fitted_range[1]
    lines.append("    " + law.predict(top).describe())
    if law.frontier.run_sigma is not None:
        lines.append("    " + law.predict(top, "new run").describe())
    lines.append("    " + law.optimal_size(top).describe(".4g") + f" ({_count_words(law.parameters)})")
    lines.append(f"    interval: {law.predict(top).method}")
    window = result.get("window")
    if window:
        effect = window.get("effect")
        moved = (f"; against every size it moves L*({effect['C']:.3g}) by {effect['loss_change']:+.2%} and N* by "
                 f"{effect['N_opt_change']:+.1%}" if effect else "")
        lines.append(f"    window: each parabola on the {window['sizes']} sizes nearest its best run "
                     f"({window['points_dropped']} points left out){moved}")
    return lines


def _count_words(count: str) -> str:
    return {"total": "total parameters", "non-embedding": "non-embedding parameters"}.get(count, f"given ({count})")


def describe_counts(result: dict[str, Any]) -> list[str]:
    """The headline law beside the same fit under the other parameter count, quantity by quantity."""
    other = result["other_count"]
    names = (result["parameters"], other["parameters"])
    rows = [("quantity", *names)]
    if "N_opt" in result and "N_opt" in other:
        for key, symbol in (("N_opt", "N*(C) ∝ C^a"), ("D_opt", "D*(C) ∝ C^b")):
            rows.append((symbol, *(f"{r[key]['exponent']:.3f} {_interval(r[key]['exponent_interval'], '.3f')}"
                                   for r in (result, other))))
    if "law" in result and "law" in other:
        for name in ("E", "alpha", "beta", "a", "b"):
            rows.append((name, *(f"{r['law'][name]:.4g} {_interval(r['law']['intervals'].get(name), '.4g')}"
                                 for r in (result, other))))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"parameter counts: the headline counts {names[0]}; {HEADLINE_WHY}." if names[0] == "total" else
             f"parameter counts: the headline counts {names[0]} (--params); the total count is beside it."]
    lines += ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    shares = ", ".join(f"{p['total']:,.0f} ({p['embedding_share']:.0%})" for p in result.get("embedding_shares", []))
    if shares:
        lines.append(f"  embedding share of each trained size (total N): {shares}")
    return lines


def _describe_leave_one_out(loo: dict) -> list[str]:
    lines = [f"  leave-one-budget-out (approach {loo['approach']}): forecasts of the largest budget C = {loo['target_C']:.3g}"
             f" (on every budget: L* {loo['full']['loss']:.4f}, N* {loo['full']['N_opt']:.4g})"]
    for row in loo["refits"]:
        lines.append(f"    without C={row['left_out']:.3g}: L* {row['loss']:.4f} ({row['loss_change']:+.1%}), "
                     f"N* {row['N_opt']:.4g} ({row['N_opt_change']:+.0%})")
    summary = loo["summary"]
    if loo["refits"]:
        lines.append(f"    worst change: L* {summary['loss']['worst_change']:+.1%} (without C="
                     f"{summary['loss']['worst_left_out']:.3g}), N* {summary['N_opt']['worst_change']:+.0%} "
                     f"(without C={summary['N_opt']['worst_left_out']:.3g})")
    lines += [f"    no refit without C={reason}" for reason in loo["skipped"]]
    return lines


def _describe_constrained(c: dict) -> list[str]:
    ci = c.get("intervals", {})
    lines = [f"data-constrained law (Muennighoff et al. 2023), base {c.get('base', 'fitted jointly')}:",
             "  L(N, D, U) = E + A/N'^alpha + B/D'^beta with D' = U(1 + R_D*(1 − e^(−R_D/R_D*))), N' likewise"]
    for name in ("E", "A", "B", "alpha", "beta"):
        lines.append(f"  {name:>5} = {c[name]:.4g}  {_interval(ci.get(name), '.4g')}")
    lines.append(_decay_line("R_D*", c["R_D_star"], ci.get("R_D_star")))
    if c.get("R_D_star_flat_range"):
        low, high = c["R_D_star_flat_range"]
        lines.append(f"    profile: the objective stays within noise for R_D* in [{low:.3g}, {high:.3g}]")
    if c.get("R_N_star") is not None:
        lines.append(_decay_line("R_N*", c["R_N_star"], ci.get("R_N_star")))
    for epoch, value in c["repeated_token_value"].items():
        lines.append(f"    at {epoch} epochs a token is worth {value['value']:.2f} {_interval(value['interval'], '.2f')} of a fresh one")
    lines += [f"  note: {note}" for note in c.get("notes", []) + c.get("R_D_star_not_pinned", [])]
    return lines


def _decay_line(symbol: str, value: float, interval) -> str:
    """A decay constant with its interval, or, at a bound of its search, why it is no value."""
    low, high = (math.exp(v) for v in LOG_R_BOUNDS)
    if not low * BOUND_MARGIN < value < high / BOUND_MARGIN:
        return (f"  {symbol}: not identified (the fit put it at its search bound {value:.3g}, within [{low:.3g}, {high:.3g}]): "
                "the runs do not constrain it")
    return f"  {symbol} = {value:.3g}  {_interval(interval, '.3g')}"


# A decay constant this close (relative) to its search bound sits on it.
BOUND_MARGIN = 1.01


def _interval(pair, spec: str) -> str:
    """``[low, high]``, or why there is none: never a NaN in front of a user."""
    if pair is None or not all(v is not None and np.isfinite(v) for v in pair):
        return "(no interval: no bootstrap resamples)"
    return f"[{pair[0]:{spec}}, {pair[1]:{spec}}]"


def _span(pair) -> str:
    return f"{pair[0]:.3g}–{pair[1]:.3g}"
