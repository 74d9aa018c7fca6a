"""The scarcity report's laws of repeated data: R_D* with its interval (Muennighoff et al.'s fit), and the
monotone and penalised laws compared by how well each predicts a D it was not fitted on."""

from __future__ import annotations

import math
import statistics

from ..errors import UsageError
from ..fit.constrained import LOG_R_BOUNDS, fit_repetition, token_worth
from ..fit.finetune import rectified_leave_one_out
from ..fit.repetition import LAWS, fit_repetition_law, leave_one_d_out
from ..results.records import RunRecord
from .document import Paragraph, Section, Table

# Muennighoff et al. (2023), fitted on runs up to 9B parameters (their datablations law).
PUBLISHED_R_D_STAR = 15.4
# Two laws whose leave-one-out errors are this close describe the sweep equally well.
SAME_WITHIN = 0.1
TARGETS = {"final": "final loss", "best": "best loss during training"}


def repetition_section(runs: list[RunRecord], bootstrap: int) -> Section:
    """R_D* (with ``bootstrap`` resamples) and a token's worth, then both laws fitted to the final and to the best
    loss, with leave-one-D-out."""
    done = [r for r in runs if r.completed and r.final_val_loss is not None]
    return Section("Laws of repeated data", _decay(done, bootstrap) + _laws(done))


def _decay(done: list[RunRecord], bootstrap: int) -> list[Paragraph | Table]:
    """R_D* of Muennighoff et al. for this model and corpus, and what a repeated token is worth."""
    intro = ("Muennighoff et al. (2023) value U unique tokens seen for D total as D' = U(1 + R_D*(1 − e^(−R/R_D*))), "
             "R = D/U − 1 repetitions: R_D* is how many repetitions a token survives before it stops helping. "
             "Fitted here as final loss = E' + B/D'^β over the runs (this model, this corpus, this budget; Huber loss "
             "on log loss, as they fit it).")
    try:
        law = fit_repetition([r.unique_tokens for r in done], [r.tokens for r in done], [r.final_val_loss for r in done],
                             bootstrap=bootstrap)
    except UsageError as error:
        return [Paragraph(intro), Paragraph(f"No fit: {error}.")]
    interval = law.intervals.get("R_D_star")
    estimate = (f"R_D* = {law.r_d_star:.3g} (Muennighoff et al.'s fit: Huber on log loss)"
                + (f" [{interval[0]:.3g}, {interval[1]:.3g}] (95% bootstrap)" if interval
                                                 else " (no interval: no bootstrap resamples)"))
    if law.flat_range:
        estimate += f"; the objective stays within noise for R_D* from {law.flat_range[0]:.3g} to {law.flat_range[1]:.3g}"
    rows = []
    for epochs, (value, spread) in law.token_values().items():
        published = token_worth(epochs, PUBLISHED_R_D_STAR)
        rows.append([str(epochs), f"{value:.2f}" + (f" [{spread[0]:.2f}, {spread[1]:.2f}]" if spread else ""), f"{published:.2f}"])
    table = Table(["epochs", "a token's worth here (vs fresh)", f"large-scale pretraining (R_D* = {PUBLISHED_R_D_STAR:g})"],
                  rows, [True, True, True])
    verdict = ("**This sweep does not pin R_D* down**: " + "; ".join(law.pinning) + "." if law.pinning
               else "The sweep pins R_D* down.")
    return [Paragraph(intro), Paragraph(estimate + f" ({'; '.join(law.notes)})."), table, Paragraph(verdict)]


def _targets(done: list[RunRecord]) -> dict[str, tuple[list[float], list[float], list[float]]]:
    """(D, U, loss) per target: the final loss at the run's tokens, the best loss at the tokens seen by its step."""
    final = ([r.tokens for r in done], [r.unique_tokens for r in done], [r.final_val_loss for r in done])
    best = ([r.tokens * r.best_step / len(r.metrics) for r in done], [r.unique_tokens for r in done],
            [r.best_val_loss for r in done])
    return {"final": final, "best": best}


def _laws(done: list[RunRecord]) -> list[Paragraph | Table]:
    intro = Paragraph(
        "Two laws over the same D': **monotone**, loss = E' + B/D'^β (more repetitions never hurt), and "
        "**penalised**, loss = E' + B/D'^β + κ·ln(1 + R) (κ ≥ 0: a penalty that grows with the repetitions, so the "
        "loss can turn upward). Both by least squares on the loss (E', B, κ by non-negative least squares, β and R_D* "
        "searched), to the final loss and separately to the best loss during training (at the tokens seen by its step). "
        "Their R_D* is least squares' and differs from the one above, which Muennighoff et al.'s objective (Huber on log "
        "loss) gives: the two objectives weigh the D's differently. "
        "Leave-one-D-out: each D is left out in turn and the law fitted to the others predicts its mean loss.")
    rows, verdicts, final_rmse = [], [], {}
    spread = _seed_spread(done)
    for target, (D, U, loss) in _targets(done).items():
        try:
            fitted = {law: fit_repetition_law(D, U, loss, law) for law in LAWS}
            held_out = {law: leave_one_d_out(D, U, loss, law) for law in LAWS}
        except UsageError as error:
            verdicts.append(f"{TARGETS[target].capitalize()}: no fit ({error}).")
            continue
        for law in LAWS:
            f, loo = fitted[law], held_out[law]
            unique, worst = loo.worst
            rows.append([TARGETS[target], law, f"{f.E:.3g}", f"{f.B:.3g}", f"{f.beta:.3g}", _r_star(f.r_d_star),
                         f"{f.kappa:.3g}" if law == "penalised" else "–", f"{f.residual:.3f}", f"{loo.rmse:.3f}",
                         f"{worst:+.3f} (D={_samples(done, unique)})"])
        verdicts.append(_verdict(TARGETS[target], held_out, spread))
        if target == "final":
            final_rmse = {law: held_out[law].rmse for law in LAWS}
    header = ["fitted to", "law", "E'", "B", "β", "R_D* (least squares)", "κ", "rms residual", "leave-one-D-out rms", "worst"]
    return [intro, Table(header, rows, [False, False] + [True] * 8), *[Paragraph(v) for v in verdicts], *_rectified(done, final_rmse)]


def _rectified(done: list[RunRecord], others: dict[str, float]) -> list[Paragraph]:
    """Lin et al.'s rectified fine-tuning law over the unique samples D, fitted to the mean final loss of each D."""
    by_size: dict[int, list[float]] = {}
    for r in done:
        by_size.setdefault(r.unique_samples, []).append(r.final_val_loss)
    sizes = sorted(by_size)
    intro = ("The rectified fine-tuning law of Lin et al. (2024), loss = (A − E)/(1 + (D/D_k)^β) + E over the unique "
             "samples D (a plateau before a knee D_k, then a power law), fitted to each D's mean final loss")
    try:
        check = rectified_leave_one_out(sizes, [statistics.fmean(by_size[d]) for d in sizes])
    except UsageError as error:
        return [Paragraph(f"{intro}: not fitted ({error}).")]
    a, e, knee, beta = check.params
    where = ("every D lies before its knee: the sweep has not reached the power-law regime, so the law's E and β are "
             "not pinned" if check.before_knee == check.sizes else
             f"{check.before_knee} of {check.sizes} values of D lie before its knee")
    if others:
        better = [law for law, rmse in others.items() if check.rmse < (1 - SAME_WITHIN) * rmse]
        against = " and ".join(f"{rmse:.3f} ({law})" for law, rmse in others.items())
        which = (f"it describes this sweep better than {'both laws' if len(better) == len(others) else 'the ' + better[0] + ' law'}"
                 f" above (their final-loss rms: {against})" if better else
                 f"it describes this sweep no better than the laws above (their final-loss rms: {against})")
    else:
        which = "the laws above had no fit to compare with"
    return [Paragraph(f"{intro}: A = {a:.3g}, E = {e:.3g}, D_k = {knee:.3g} samples, β = {beta:.3g}; leave-one-D-out rms "
                      f"{check.rmse:.3f} nats (worst {check.worst[1]:+.3f} at D = {check.worst[0]:.0f}): {which}; "
                      f"{where}.")]


def _verdict(target: str, held_out: dict, spread: float | None) -> str:
    monotone, penalised = held_out["monotone"].rmse, held_out["penalised"].rmse
    if abs(monotone - penalised) <= SAME_WITHIN * max(monotone, penalised):
        which = f"both laws predict a left-out D about equally well (rms {monotone:.3f} and {penalised:.3f} nats)"
    else:
        better, worse = ("penalised", "monotone") if penalised < monotone else ("monotone", "penalised")
        which = (f"the {better} law describes this sweep better: it predicts a left-out D with rms error "
                 f"{min(monotone, penalised):.3f} nats against {max(monotone, penalised):.3f} for the {worse} one")
    text = f"**{target.capitalize()}**: {which}."
    if spread is not None and min(monotone, penalised) > 2 * spread:
        text += (f" Neither predicts within the noise: the seeds of one D differ by {spread:.3f} nats (mean standard "
                 "deviation), so the laws' errors are the laws', not the seeds'; read them as a description of this "
                 "sweep, not a forecast.")
    return text


def _seed_spread(done: list[RunRecord]) -> float | None:
    """The mean over D of the standard deviation of the final loss across seeds (None with one seed)."""
    groups: dict[int, list[float]] = {}
    for r in done:
        groups.setdefault(r.unique_samples, []).append(r.final_val_loss)
    spreads = [statistics.stdev(v) for v in groups.values() if len(v) > 1]
    return statistics.fmean(spreads) if spreads else None


def _r_star(value: float) -> str:
    edge = not math.exp(LOG_R_BOUNDS[0]) * 1.01 < value < math.exp(LOG_R_BOUNDS[1]) * 0.99
    return "not identified (at its search bound)" if edge else f"{value:.3g}"


def _samples(done: list[RunRecord], unique_tokens: float) -> int:
    return next(r.unique_samples for r in done if r.unique_tokens == unique_tokens)
