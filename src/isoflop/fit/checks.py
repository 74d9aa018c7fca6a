"""Is a fitted law an answer? The signs of a degenerate fit, in plain words.

An optimiser always returns numbers. A law whose irreducible loss sits on the bound of
the search (E ≈ 0), whose exponents are zero, negative or beyond the grid of starts, or
whose bootstrap intervals span orders of magnitude, describes the noise of the points,
not a scaling law; it must not be printed as a result.
"""

from __future__ import annotations

import numpy as np

# E below this share of the lowest loss is the search's lower bound, not an estimate.
E_FLOOR_SHARE = 1e-3
# A coefficient whose interval spans more than this factor is not determined by the points.
MAX_SPAN = 1e3
MIN_EXPONENT = 1e-3
WHAT_WOULD_FIX_IT = ("train at least 3 model sizes on each side of each budget's minimum, over budgets spanning 10× "
                     "or more, so that the loss falls with both N and D")


# α and β are told apart only where ln D varies apart from ln N: at or above this R² of the straight line ln D ~ ln N
# (tokens per parameter nearly fixed, as in per-budget minima) the points cannot separate the N and D terms.
COLLINEAR_R2 = 0.99


def collinearity(N, D) -> float:
    """R² of the least-squares line ln D ~ ln N over the points (1: D is a power of N, α and β not identified)."""
    log_n, log_d = np.log(np.asarray(N, dtype=float)), np.log(np.asarray(D, dtype=float))
    if np.ptp(log_n) == 0 or np.ptp(log_d) == 0:
        return 1.0
    return float(np.corrcoef(log_n, log_d)[0, 1] ** 2)


def chinchilla_problems(law, N, D, losses, grid) -> list[str]:
    """Reasons not to trust an approach-3 law L = E + A/N^α + B/D^β fitted on points (N, D, loss); empty when none."""
    problems = []
    r2 = collinearity(N, D)
    if r2 >= COLLINEAR_R2:
        problems.append(f"ln D is a straight line in ln N over the points (R² = {r2:.4f} ≥ {COLLINEAR_R2}: tokens per "
                        "parameter nearly fixed, as in per-budget minima), so α and β are not separately identified; fit "
                        "runs of several sizes per budget, or fit minima with approach 2 (--minima)")
    floor = E_FLOOR_SHARE * float(np.min(losses))
    for symbol, term in (("N", law.A / np.min(N) ** law.alpha), ("D", law.B / np.min(D) ** law.beta)):
        if term < floor:
            problems.append(f"the {symbol} term is at most {term:.3g} over the points: loss does not fall with {symbol}")
    if law.E < floor:
        problems.append(f"E ≈ 0 (E = {law.E:.3g}): the irreducible loss sits on the bound of the search")
    for name, symbol in (("alpha", "α"), ("beta", "β")):
        value, top = getattr(law, name), float(np.max(grid[name]))
        if value <= MIN_EXPONENT:
            problems.append(f"{symbol} = {value:.3g}: loss does not fall with {'N' if name == 'alpha' else 'D'}")
        elif value > top:
            problems.append(f"{symbol} = {value:.3g} lies beyond the grid of starts (up to {top:g})")
    for name in ("E", "A", "B"):
        low, high = law.intervals.get(name, (None, None))
        if low is not None and (low <= 0 or high / low > MAX_SPAN):
            problems.append(f"{name}'s 95% interval [{low:.3g}, {high:.3g}] spans {_orders(low, high)}")
    return problems


def allocation_problems(allocation) -> list[str]:
    """Reasons not to trust N*(C) ∝ C^a and D*(C) ∝ C^b (approaches 1 and 2)."""
    problems = []
    for symbol, law in (("N*", allocation.n_law), ("D*", allocation.d_law)):
        if law.exponent <= 0:
            problems.append(f"{symbol} ∝ C^{law.exponent:.3f}: a negative exponent (the compute-optimal "
                            f"{'model shrinks' if symbol == 'N*' else 'data shrinks'} as compute grows)")
    return problems


def frontier_problems(frontier, losses) -> list[str]:
    """Reasons not to trust L*(C) = E + A·C^−γ."""
    problems = []
    if frontier.gamma <= MIN_EXPONENT:
        problems.append(f"γ = {frontier.gamma:.3g}: the optimal loss does not fall with compute")
    if not frontier.power_law and not E_FLOOR_SHARE * float(np.min(losses)) <= frontier.E <= (1 - E_FLOOR_SHARE) * float(np.min(losses)):
        problems.append(f"E = {frontier.E:.3g} sits on a bound of the search (0 or the lowest loss)")
    low, high = frontier.intervals.get("A", (None, None))
    if low is not None and (low <= 0 or high / low > MAX_SPAN):
        problems.append(f"A's 95% interval [{low:.3g}, {high:.3g}] spans {_orders(low, high)}")
    return problems


def unreliable_line(what: str, problems: list[str]) -> str:
    """One line saying a quantity cannot be trusted from these points, why, and what would fix it."""
    return f"no reliable {what} from these points ({'; '.join(problems)}); {WHAT_WOULD_FIX_IT}"


def _orders(low: float, high: float) -> str:
    if low <= 0:
        return "zero"
    return f"{np.log10(high / low):.0f} orders of magnitude"


def input_warnings(table, source: dict, parameters: int | None) -> list[str]:
    """What a statistician would say of the points before fitting them."""
    warnings = []
    duplicates = source.get("duplicate_rows", 0) - source.get("dropped_duplicates", 0)
    if duplicates:
        warnings.append(f"{duplicates} duplicate row(s): each counts twice and narrows the intervals; --dedupe drops them")
    if parameters is not None and len(table.N) <= parameters:
        warnings.append(f"{len(table.N)} points for {parameters} parameters: the law passes through every point and "
                        "says nothing about noise")
    if parameters is not None and len(np.unique(table.budgets())) == 1:
        warnings.append("all points share one compute budget: N and D are not varied independently, so α and β "
                        "cannot be told apart")
    for name, values in (("N", table.N), ("D", table.D), ("C", table.budgets())):
        if len(np.unique(values)) < MIN_LEVELS:
            warnings.append(f"{name} takes {len(np.unique(values))} value(s): a power law in {name} needs at least "
                            f"{MIN_LEVELS} levels to be told from a curve through them")
    if parameters is not None and _narrow_ratio(table):
        warnings.append("at every N the tokens per parameter D/N span less than a decade: the N and D terms move "
                        "together, so α and β are nearly collinear and their intervals are wide")
    return warnings


MIN_LEVELS = 3


def _narrow_ratio(table) -> bool:
    """True when no model size was trained over a decade or more of D/N (one size with several budgets, say)."""
    ratios = np.log10(table.D / table.N)
    return all(np.ptp(ratios[table.N == n]) < 1 for n in np.unique(table.N))


def fit_warnings(law, grid) -> list[str]:
    """What the fit itself says: starts that did not converge, intervals at the edge of the starts."""
    warnings = []
    convergence = law.convergence
    if not convergence.get("best_converged", True):
        warnings.append("the best start did not report convergence (L-BFGS hit its iteration limit); treat the "
                        "values as approximate")
    if convergence.get("resamples") and convergence["converged_resamples"] < 0.9 * convergence["resamples"]:
        warnings.append(f"only {convergence['converged_resamples']} of {convergence['resamples']} bootstrap resamples "
                        "converged: the intervals are unreliable")
    for name, symbol in (("alpha", "α"), ("beta", "β")):
        low, high = law.intervals.get(name, (None, None))
        top = float(np.max(grid[name]))
        if high is not None and high >= top:
            warnings.append(f"{symbol}'s interval reaches the edge of the grid of starts ({top:g}): widen the grid")
    return warnings


# The residuals' Jacobian at the optimum: ~1e3 on Epoch-shaped data (6 budgets, 40 sizes each), ~6e7 when every run
# has one tokens-per-parameter ratio. Past this, some combination of the parameters is not pinned by the points.
CONDITION_WARNING = 1e6


def conditioning_warning(law, N, D) -> list[str]:
    """A warning when L(N, D) is ill-conditioned at its optimum: the Jacobian of the log-space residuals with respect
    to (log A, log B, log E, α, β) has a condition number above ``CONDITION_WARNING``."""
    log_n, log_d = np.log(np.asarray(N, dtype=float)), np.log(np.asarray(D, dtype=float))
    terms = np.stack([np.log(law.A) - law.alpha * log_n, np.log(law.B) - law.beta * log_d,
                      np.full(len(log_n), np.log(law.E))])
    shares = np.exp(terms - terms.max(axis=0))
    shares /= shares.sum(axis=0)
    jacobian = np.column_stack([shares[0], shares[1], shares[2], -shares[0] * log_n, -shares[1] * log_d])
    condition = float(np.linalg.cond(jacobian))
    if condition <= CONDITION_WARNING:
        return []
    return [f"the fit is ill-conditioned at its optimum (Jacobian condition number {condition:.2g}): the points do not "
            "pin some combination of E, A, B, α and β; vary N and D independently (several budgets per size)"]
