"""One entry point per fit request: a table in, a JSON-ready result out (used by the CLI and studies)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UsageError
from .budgets import DEFAULT_TOLERANCE, group_budgets, grouping_hint
from .checks import allocation_problems, chinchilla_problems, fit_warnings, frontier_problems, input_warnings, unreliable_line
from .chinchilla import DEFAULT_GRID, LBFGS_OPTIONS, fit_chinchilla
from .objectives import Objective
from .constrained import fit_constrained
from .holdout import Holdout, holdout_largest
from .laws import load_law
from .isoflop_profiles import approach1, approach2, fit_frontier
from .table import FitTable

APPROACHES = (1, 2, 3, "constrained")
# Resamples behind the intervals: enough that a 95% interval is stable to the digits printed (4).
DEFAULT_BOOTSTRAP = 1000


def fitted_range(table: FitTable) -> dict[str, list[float]]:
    budgets = table.budgets()
    return {
        "N": [float(table.N.min()), float(table.N.max())],
        "D": [float(table.D.min()), float(table.D.max())],
        "C": [float(budgets.min()), float(budgets.max())],
    }


@dataclass(frozen=True)
class FitSettings:
    """How a fit was asked for: recorded in the law file so that it can be traced and repeated."""

    approach: int | str = 3
    base: str | None = None  # approach "constrained": a law to freeze E, A, B, α, β to (name or file)
    bootstrap: int = DEFAULT_BOOTSTRAP
    seed: int = 0
    objective: Objective = Objective()
    budget_tolerance: float = DEFAULT_TOLERANCE
    budgets: tuple[float, ...] | None = None
    grid: dict | None = None
    progress: bool = False
    holdout_largest: bool = False

    def as_dict(self) -> dict:
        grid = self.grid or DEFAULT_GRID
        return {
            "approach": self.approach, "base": self.base, "holdout_largest": self.holdout_largest, "objective": self.objective.as_dict(), "bootstrap": self.bootstrap,
            "seed": self.seed, "budget_tolerance": self.budget_tolerance,
            "budgets": list(self.budgets) if self.budgets else None,
            "start_grid": {name: [float(v) for v in values] for name, values in grid.items()},
            "optimizer": {"method": "L-BFGS-B", **LBFGS_OPTIONS},
        }


def run_fit(table: FitTable, settings: FitSettings = FitSettings(), source: dict | None = None) -> dict[str, Any]:
    """The fit as a JSON-ready dict: values, intervals, problems (a degenerate fit), warnings and provenance."""
    approach = settings.approach
    if approach not in APPROACHES:
        raise UsageError(f"unknown approach {approach}; choose 1, 2, 3 or constrained")
    if settings.holdout_largest and approach != 2:
        raise UsageError("--holdout-largest checks approach 2's frontier; use it with --approach 2")
    if settings.base and approach != "constrained":
        raise UsageError("--base freezes the law of a data-constrained fit; use it with --approach constrained")
    result: dict[str, Any] = {"approach": approach, "points": int(len(table.N)), "range": fitted_range(table),
                              "flops": table.flop_count.as_dict()}
    problems: list[str] = []
    notes = input_warnings(table, source or {}, settings.objective.parameters if approach == 3 else None)
    if approach == 1:
        allocation = approach1(table.N, table.D, table.loss, table.budgets())
        result.update(allocation.as_dict())
        problems += allocation_problems(allocation)
    elif approach == 2:
        budgets, groups = group_budgets(table.budgets(), settings.budget_tolerance, settings.budgets)
        result["budget_groups"] = groups
        try:
            allocation = approach2(table.N, table.D, table.loss, budgets, table.budget_count())
        except UsageError as error:
            hint = grouping_hint(groups, len(table.N), settings.budget_tolerance)
            raise UsageError(hint or str(error)) from None
        result.update(allocation.as_dict())
        problems += allocation_problems(allocation)
        frontier = None
        if len(allocation.minima) >= 3:
            losses = [m.loss for m in allocation.minima]
            frontier = fit_frontier([m.flops for m in allocation.minima], losses)
            result["frontier"] = frontier.as_dict()
            problems += frontier_problems(frontier, losses)
        if settings.holdout_largest:
            form = frontier.power_law if frontier is not None else None
            result["holdout"] = holdout_largest(table.N, table.D, table.loss, budgets, table.budget_count(), form).as_dict()
    elif approach == "constrained":
        result["constrained"] = _constrained(table, settings).as_dict()
        result["points_used"] = {"constrained": int(len(table.N))}
    else:
        repeats = table.U is not None and bool((table.D > table.U * (1 + 1e-9)).any())
        fresh = np.ones(len(table.N), dtype=bool) if not repeats else table.D <= table.U * (1 + 1e-9)
        if repeats and fresh.sum() < 5:
            fresh[:] = True
        law = fit_chinchilla(table.N[fresh], table.D[fresh], table.loss[fresh], groups=_groups(table, fresh),
                             grid=settings.grid, bootstrap=settings.bootstrap, objective=settings.objective,
                             seed=settings.seed, progress=settings.progress)
        result["law"] = law.as_dict()
        result["points_used"] = {"law": int(fresh.sum())}
        if not fresh.all():
            result["dropped"] = [{"points": int((~fresh).sum()), "from": "law",
                                  "reason": "repeat data (D > U), so only the data-constrained fit uses them"}]
        grid = settings.grid or DEFAULT_GRID
        problems += chinchilla_problems(law, table.N[fresh], table.D[fresh], table.loss[fresh], grid)
        notes += fit_warnings(law, grid)
        if repeats:
            result["constrained"] = fit_constrained(table.N, table.D, table.U, table.loss, grid=settings.grid,
                                                    bootstrap=settings.bootstrap, seed=settings.seed).as_dict()
            result["points_used"]["constrained"] = int(len(table.N))
    result["problems"] = problems
    result["warnings"] = notes
    result["provenance"] = {"isoflop": _version(), "input": source or {}, "settings": settings.as_dict()}
    return result


def _constrained(table: FitTable, settings: FitSettings):
    if table.U is None:
        raise UsageError("--approach constrained needs a U column (unique tokens of each run) besides N, D and loss")
    base = None
    if settings.base:
        loaded = load_law(settings.base)
        if loaded.law is None:
            raise UsageError(f"--base {settings.base}: it holds N*(C) only; give a law with L(N, D) (approach 3) or a published law")
        base = loaded.constrained or loaded.law
    return fit_constrained(table.N, table.D, table.U, table.loss, base=base, base_name=settings.base,
                           bootstrap=settings.bootstrap, seed=settings.seed, grid=settings.grid, objective=settings.objective)


def _version() -> str:
    from importlib import metadata

    return metadata.version("isoflop")


def _groups(table: FitTable, keep) -> np.ndarray | None:
    return None if table.seed is None else table.seed[keep]


def describe(result: dict[str, Any]) -> str:
    """The fit in a few plain lines."""
    lines = []
    if result.get("problems"):
        lines.append("UNRELIABLE, shown because of --force: " + unreliable_line("law", result["problems"]))
    lines.append(f"approach {result['approach']} on {result['points']} points "
                 f"(N {_span(result['range']['N'])}, D {_span(result['range']['D'])}, C {_span(result['range']['C'])})")
    lines.append(f"compute counted as {result['flops']['description']}")
    for drop in result.get("dropped", []):
        lines.append(f"{result['points_used']['law']} of {result['points']} points fit L(N, D): {drop['points']} {drop['reason']}")
    if "budget_groups" in result:
        groups = result["budget_groups"]
        shown = ", ".join(f"{g['C']:.3g} ({g['points']})" for g in groups[:8]) + (" …" if len(groups) > 8 else "")
        lines.append(f"budgets (points): {shown}")
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
    if "N_opt" in result:
        for key, symbol in (("N_opt", "N*"), ("D_opt", "D*")):
            law = result[key]
            lines.append(f"  {symbol}(C) = {law['coefficient']:.3g} · C^{law['exponent']:.3f}  {_interval(law['exponent_interval'], '.3f')}")
        for m in result["minima"]:
            sides = f" ({m['sizes_below']} sizes below, {m['sizes_above']} above)" if "sizes_below" in m else ""
            lines.append(f"    C={m['C']:.3g}: N*={m['N_opt']:.3g}, D*={m['D_opt']:.3g}, L*={m['loss']:.4f}{sides}")
    if "frontier" in result:
        f = result["frontier"]
        why = ""
        if not f["intervals"]:
            why = (" (no intervals: as many budgets as the law has parameters)" if len(result.get("minima", [])) <= 3
                   else " (no intervals: no usable bootstrap resample)")
        lines.append(f"  frontier {f['law']}{why}")
    if "holdout" in result:
        lines.append("  " + Holdout.from_dict(result["holdout"]).sentence())
    if "constrained" in result:
        lines += _describe_constrained(result["constrained"])
    lines += [f"warning: {warning}" for warning in result.get("warnings", [])]
    return "\n".join(lines)


def _describe_constrained(c: dict) -> list[str]:
    ci = c.get("intervals", {})
    lines = [f"data-constrained law (Muennighoff et al. 2023), base {c.get('base', 'fitted jointly')}:",
             "  L(N, D, U) = E + A/N'^alpha + B/D'^beta with D' = U(1 + R_D*(1 − e^(−R_D/R_D*))), N' likewise"]
    for name in ("E", "A", "B", "alpha", "beta"):
        lines.append(f"  {name:>5} = {c[name]:.4g}  {_interval(ci.get(name), '.4g')}")
    lines.append(f"  R_D* = {c['R_D_star']:.3g}  {_interval(ci.get('R_D_star'), '.3g')}")
    if c.get("R_D_star_flat_range"):
        low, high = c["R_D_star_flat_range"]
        lines.append(f"    profile: the objective stays within noise for R_D* in [{low:.3g}, {high:.3g}]")
    if c.get("R_N_star") is not None:
        lines.append(f"  R_N* = {c['R_N_star']:.3g}  {_interval(ci.get('R_N_star'), '.3g')}")
    for epoch, value in c["repeated_token_value"].items():
        lines.append(f"    at {epoch} epochs a token is worth {value['value']:.2f} {_interval(value['interval'], '.2f')} of a fresh one")
    lines += [f"  note: {note}" for note in c.get("notes", []) + c.get("R_D_star_not_pinned", [])]
    return lines


def _interval(pair, spec: str) -> str:
    """``[low, high]``, or why there is none: never a NaN in front of a user."""
    if pair is None or not all(v is not None and np.isfinite(v) for v in pair):
        return "(no interval: no bootstrap resamples)"
    return f"[{pair[0]:{spec}}, {pair[1]:{spec}}]"


def without_nan(value):
    """The result with every NaN or infinity replaced by None, so that its JSON is valid JSON."""
    if isinstance(value, dict):
        return {k: without_nan(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [without_nan(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _span(pair) -> str:
    return f"{pair[0]:.3g}–{pair[1]:.3g}"
