"""The scarcity study's report: the answer in plain words, the loss at each D, the plots, the runs."""

from __future__ import annotations

from pathlib import Path

from ..config.studies import ScarcityConfig
from ..errors import UsageError
from ..fit.constrained import fit_repetition, token_worth
from ..results.records import RunRecord
from .aggregate import PointSummary, Spread, baseline, by_unique_samples, relative_cost
from .document import Document, Figure, Paragraph, Section, Table
from .plots import plot_loss_vs_unique_samples, plot_validation_curves
from .tables import closing_sections

TITLE = "Data scarcity at a fixed compute budget"
# Muennighoff et al. (2023), fitted on runs up to 9B parameters (their datablations law).
PUBLISHED_R_D_STAR = 15.4


def build_report(runs: list[RunRecord], config: ScarcityConfig, notes: list[str]) -> Document:
    """The scarcity study's report: the cost of repeating data against one epoch of unique data."""
    folder = Path(config.output)
    points = by_unique_samples(runs)
    intro = [Paragraph(_question(config, runs)), Paragraph(_setup(config, runs))]
    sections: list[Section] = []
    if not points:
        answer = ["No run completed, so there is no answer yet."]
    else:
        reference = baseline(points)
        answer = _answer(points, reference)
        sections.append(Section("Loss at each D", [_loss_table(points, reference), *_seed_note(points)]))
        sections.append(Section("In the language of the data-constrained law", _decay(runs)))
        title = (f"{config.model} on {config.data.train_data}: C={config.budget_passes} passes "
                 f"of {config.data.seq_len} tokens, lr {config.optimizer.learning_rate:g}")
        sections.append(Section("Plots", [
            Figure(plot_loss_vs_unique_samples(points, folder, title), "final and best validation loss vs D"),
            Figure(plot_validation_curves(points, folder, title), "validation curves per D"),
        ]))
    sections += closing_sections("scarcity", runs, notes)
    return Document(TITLE, intro, answer, sections, runs)


def _question(config: ScarcityConfig, runs: list[RunRecord]) -> str:
    tokens = config.budget_passes * config.data.seq_len
    flops = f", {runs[0].budget_flops:.3g} training FLOPs in the {runs[0].flop_convention} convention" if runs else ""
    return (f"**Question.** With a fixed budget of {config.budget_passes} forward+backward passes "
            f"({tokens:,} training tokens{flops}), how much does having fewer unique training samples D hurt?")


def _setup(config: ScarcityConfig, runs: list[RunRecord]) -> str:
    optimizer = config.optimizer
    parameters = f" ({runs[0].parameters:,} parameters)" if runs else ""
    engines = sorted({r.engine for r in runs}) or [config.engine.engine]
    warmup = f"{optimizer.warmup_fraction:.0%} warmup" if optimizer.warmup_fraction else "no warmup"
    evaluation = ("after every step" if config.evaluation.evals_per_run is None
                  else f"{config.evaluation.evals_per_run} times per run")
    return (f"**Setup.** Model `{config.model}`{parameters}, tokenizer `{config.tokenizer.tokenizer}`, "
            f"data `{config.data.train_data}` ({config.data.chunking} chunking, {config.data.seq_len} tokens per sample), "
            f"batch size {optimizer.batch_size}, learning rate {optimizer.learning_rate:g} (AdamW, {optimizer.schedule} decay, "
            f"{warmup}), {config.evaluation.eval_samples} validation samples evaluated {evaluation}, "
            f"seeds {list(config.seeds)}, engine `{', '.join(engines)}` ({config.engine.precision}). "
            "Losses are validation cross-entropy in nats per token.")


def _answer(points: list[PointSummary], reference: PointSummary) -> list[str]:
    if abs(reference.epochs - 1.0) < 1e-9:
        ref_words = f"one epoch of unique data (D={reference.unique_samples})"
    else:
        ref_words = (f"the largest D in the grid (D={reference.unique_samples}, {reference.epochs:g} epochs; "
                     "no D gives exactly one epoch)")
    out = [f"Compared with {ref_words}, which ends at a validation loss of {reference.final.mean:.3f}:"]
    for p in points:
        if p is reference:
            continue
        cost = relative_cost(p.final.mean, reference.final.mean)
        out.append(
            f"D={p.unique_samples} ({p.epochs:g} epochs): {p.final.mean:.3f}, {cost:+.1%}"
            f" (best during training {p.best.mean:.3f}, {relative_cost(p.best.mean, reference.best.mean):+.1%} vs its best)"
        )
    smallest = points[0]
    if smallest is not reference:
        worst = relative_cost(smallest.final.mean, reference.final.mean)
        out.append(
            f"In short: repeating D={smallest.unique_samples} sample(s) for {smallest.epochs:g} epochs costs {worst:+.1%} "
            f"in final validation loss against {ref_words.split(' (')[0]}."
        )
    out.append(_overfitting(points))
    return out


def _overfitting(points: list[PointSummary]) -> str:
    last = points[0].curve_steps[-1]
    overfit = [p for p in points if p.best_step.mean < last and p.final.mean - p.best.mean > 1e-3]
    if not overfit:
        return f"No overfitting within {last} steps: for every D the validation loss is lowest at the end."
    described = ", ".join(
        f"D={p.unique_samples} at step {p.best_step.mean:.0f} (then +{p.final.mean - p.best.mean:.3f})" for p in overfit
    )
    largest = max(p.unique_samples for p in overfit)
    return f"Overfitting (validation loss bottoming out, then rising) shows for D ≤ {largest}: best at {described}."


def _decay(runs: list[RunRecord]) -> list[Paragraph | Table]:
    """R_D* of Muennighoff et al. for this model and corpus, and what a repeated token is worth."""
    done = [r for r in runs if r.completed and r.final_val_loss is not None]
    intro = ("Muennighoff et al. (2023) value U unique tokens seen for D total as D' = U(1 + R_D*(1 − e^(−R/R_D*))), "
             "R = D/U − 1 repetitions: R_D* is how many repetitions a token survives before it stops helping. "
             "Fitted here as final loss = E' + B/D'^β over the runs (this model, this corpus, this budget).")
    try:
        law = fit_repetition([r.unique_tokens for r in done], [r.tokens for r in done], [r.final_val_loss for r in done])
    except UsageError as error:
        return [Paragraph(intro), Paragraph(f"No fit: {error}.")]
    interval = law.intervals.get("R_D_star")
    estimate = (f"R_D* = {law.r_d_star:.3g}" + (f" [{interval[0]:.3g}, {interval[1]:.3g}] (95% bootstrap)" if interval
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


def _loss_table(points: list[PointSummary], reference: PointSummary) -> Table:
    rows = [
        [str(p.unique_samples), f"{p.epochs:g}", _spread(p.final), "–" if p.final_bits_per_byte is None else f"{p.final_bits_per_byte:.4f}", _spread(p.best),
         f"{p.best_step.mean:.0f}",
         f"{relative_cost(p.final.mean, reference.final.mean):+.1%}"]
        for p in points
    ]
    header = ["D", "epochs", "final val loss", "final bits/byte", "best val loss", "step of best", f"final vs D={reference.unique_samples}"]
    return Table(header, rows, [True] * len(header))


def _seed_note(points: list[PointSummary]) -> list[Paragraph]:
    seeds = max(p.final.count for p in points)
    return [Paragraph(f"Mean over {seeds} seeds; brackets give the lowest and highest seed.")] if seeds > 1 else []


def _spread(spread: Spread) -> str:
    if spread.count == 1:
        return f"{spread.mean:.3f}"
    return f"{spread.mean:.3f} [{spread.low:.3f}, {spread.high:.3f}]"
