"""The scarcity study's report: the answer in plain words with its seed spread, the loss at each D, what the
study's axes buy back, the repetition laws, the plots, the runs."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from ..config.studies import ScarcityConfig
from ..data.stream import EMBEDDED_CORPORA, HUB_PREFIX, VALIDATION_EVERY, is_local
from ..results.records import RunRecord
from .aggregate import PointSummary, Spread, at_setting, baseline, by_unique_samples, relative_cost
from .document import Document, Figure, Paragraph, Section, Table
from .paired import LEVEL, Paired, relative_costs
from .plots import Landmarks, plot_loss_vs_unique_samples, plot_validation_curves
from .repetition import repetition_section
from .scarcity_axes import axis_answer, axis_section
from .tables import closing_sections, speed_line

TITLE = "Data scarcity at a fixed compute budget"
# A D whose loss fell by less than this fraction of what the reference D's fell "barely learned".
BARELY_LEARNED = 0.1


def build_report(runs: list[RunRecord], config: ScarcityConfig, notes: list[str], vocab_size: int) -> Document:
    """The scarcity study's report: the cost of repeating data against one epoch of unique data, seed by seed."""
    folder = Path(config.output)
    points = config.settings()
    base = next(p for p in points if p.setting == config.baseline_setting())
    # Runs of other points (an axis since dropped) stay stored but out of this answer.
    summaries = [(p, by_unique_samples(at_setting(runs, p.values))) for p in points]
    base_points = next(s for p, s in summaries if p is base)
    trained = at_setting(runs, base.values)
    landmarks = Landmarks(math.log(vocab_size), vocab_size, _initial_loss(trained))
    intro = [Paragraph(_question(config, runs)), Paragraph(_setup(config, runs) + speed_line(runs))]
    sections: list[Section] = []
    if not base_points:
        answer = ["No run completed at the study's baseline setting, so there is no answer yet."]
    else:
        reference = baseline(base_points)
        answer = _answer(base_points, reference, landmarks)
        if config.grid:
            answer += axis_answer(summaries, base, reference)
        sections.append(Section("Loss at each D", [_loss_table(base_points, reference), _spread_note(base_points, reference)]))
        title = f"{config.model} on {_short(config.data.train_data)}: C={config.budget_passes} passes of {config.data.seq_len} tokens"
        if config.grid:
            sections.append(axis_section(summaries, base, reference, folder, title, landmarks))
        sections.append(repetition_section(trained, config.bootstrap.fit_bootstrap))
        caption = f", lr {config.optimizer.learning_rate:g}" + (f", {base.describe()}" if config.grid else "")
        sections.append(Section("Plots", [
            Figure(plot_loss_vs_unique_samples(base_points, folder, title + caption, landmarks),
                   "final and best validation loss vs D"),
            Figure(plot_validation_curves(base_points, folder, title + caption, landmarks), "validation curves per D"),
        ]))
    sections += closing_sections("scarcity", runs, notes)
    return Document(TITLE, intro, answer, sections, runs)


def _initial_loss(runs: list[RunRecord]) -> float | None:
    """The mean validation loss before training over the runs that measured it (None: none did)."""
    measured = [r.initial_val_loss for r in runs if r.completed and r.initial_val_loss is not None]
    return statistics.fmean(measured) if measured else None


def _question(config: ScarcityConfig, runs: list[RunRecord]) -> str:
    tokens = config.budget_passes * config.data.seq_len
    text = (f"**Question.** With a fixed budget of {config.budget_passes} forward+backward passes "
            f"({tokens:,} training tokens")
    if not runs:
        return text + "), how much does having fewer unique training samples D hurt?"
    run = runs[0]
    evaluations = len(run.evaluated()) + (run.initial_val_loss is not None)
    return (text + f", {run.budget_flops:.3g} training FLOPs in the {run.flop_convention} convention), how much does "
            f"having fewer unique training samples D hurt? Evaluating {config.evaluation.eval_samples} validation samples "
            f"{evaluations} times per run costs {run.eval_flops:.3g} FLOPs more (forward passes only), "
            f"{run.eval_flops / run.train_flops:.1f}× the training budget; C counts training only.")


def _short(source: str) -> str:
    """A data source as a title names it: a local path by its last part."""
    return Path(source).name if is_local(source) else source


def _validation(config: ScarcityConfig) -> str:
    data = config.data
    if data.validation_data is not None:
        return f"validation data `{data.validation_data}`"
    if data.train_data in EMBEDDED_CORPORA:
        return (f"validation data: the held-out tenth of `{data.train_data}`'s documents (one in {VALIDATION_EVERY}, "
                "by a hash of its name; none of them is trained on)")
    if data.train_data.startswith(HUB_PREFIX):
        return f"validation data: the validation split of `{data.train_data}`"
    return "validation data: none named"


def _setup(config: ScarcityConfig, runs: list[RunRecord]) -> str:
    optimizer = config.optimizer
    parameters = f" ({runs[0].parameters:,} parameters)" if runs else ""
    engines = sorted({r.engine for r in runs}) or [config.engine.engine]
    evaluation = ("after every step" if config.evaluation.evals_per_run is None
                  else f"{config.evaluation.evals_per_run} times per run")
    axes = ""
    if config.grid:
        listed = "; ".join(f"{name} ∈ {{{', '.join(f'{v:g}' for v in values)}}}" for name, values in config.grid.items())
        axes = f" Grid axes: {listed} (every combination × D × seed is one run); the baseline is {_baseline(config)}."
    return (f"**Setup.** Model `{config.model}`{parameters}, tokenizer `{config.tokenizer.tokenizer}`, "
            f"training data `{config.data.train_data}` ({config.data.chunking} chunking, {config.data.seq_len} tokens per "
            f"sample), {_validation(config)}, batch size {optimizer.batch_size}, learning rate "
            f"{optimizer.learning_rate:g} (AdamW, {optimizer.describe_schedule()}, weight decay "
            f"{optimizer.weight_decay:g}), {config.evaluation.eval_samples} validation samples evaluated {evaluation}, "
            f"seeds {list(config.seeds)}, engine `{', '.join(engines)}` ({config.engine.precision}). "
            f"Losses are validation cross-entropy in nats per token.{axes}")


def _baseline(config: ScarcityConfig) -> str:
    own = config.flat()
    return ", ".join(f"{name}={value:g}" + ("" if own[name] == value else " (the study's own value is not on the axis: "
                                              "its smallest value stands in)")
                     for name, value in config.baseline_setting().items())


def _reference_words(reference: PointSummary) -> str:
    if abs(reference.epochs - 1.0) < 1e-9:
        return f"one epoch of unique data (D={reference.unique_samples})"
    return (f"the largest D in the grid (D={reference.unique_samples}, {reference.epochs:g} epochs; "
            "no D gives exactly one epoch)")


def _answer(points: list[PointSummary], reference: PointSummary, landmarks: Landmarks) -> list[str]:
    """The one-sentence answer first (the smallest D's cost with its interval), then the cost at each D."""
    ref_words = _reference_words(reference)
    seeds = reference.final.count
    mean_of = f" (mean of {seeds} seeds)" if seeds > 1 else ""
    if len(points) == 1:
        return [f"Nothing to compare yet: the study holds one D (D={reference.unique_samples}, {reference.epochs:g} "
                f"epochs), which ends at a validation loss of {reference.final.mean:.3f}{mean_of}. A scarcity study "
                "compares several D at one budget: add more (e.g. --unique-samples 1,10,100 in the same folder trains only "
                "the new ones)."]
    out = []
    smallest = points[0]
    if smallest is not reference:
        worst = relative_costs(smallest.finals, reference.finals)
        out.append(f"In short: repeating D={smallest.unique_samples} sample(s) for {smallest.epochs:g} epochs costs "
                   f"{_cost(worst)} in final validation loss against {ref_words.split(' (')[0]}.")
    out.append(f"Compared with {ref_words}, which ends at a validation loss of {reference.final.mean:.3f}{mean_of}:")
    for p in points:
        if p is reference:
            continue
        cost = relative_costs(p.finals, reference.finals)
        out.append(f"D={p.unique_samples} ({p.epochs:g} epochs): {p.final.mean:.3f}, {_cost(cost)}"
                   f" (best during training {p.best.mean:.3f}, {relative_cost(p.best.mean, reference.best.mean):+.1%} vs its best)")
    out.append(_overfitting(points))
    out += _barely_learned(points, reference, landmarks)
    out.append(_spread_words(reference))
    return out


def _cost(cost: Paired | None) -> str:
    """A relative cost with its interval, and whether it lies outside the seed spread."""
    if cost is None:
        return "no seed in common with the reference"
    if cost.interval is None:
        return f"{cost.mean:+.1%}"
    low, high = cost.interval
    verdict = "" if cost.outside_spread else ", within the seed spread"
    return f"{cost.mean:+.1%} [{low:+.1%}, {high:+.1%}]{verdict}"


def _spread_words(reference: PointSummary) -> str:
    seeds = reference.final.count
    if seeds == 1:
        return ("One seed per D: no spread can be given, so these costs may be noise; --seeds 1,2,3 trains three and "
                "gives each cost its interval.")
    return (f"Brackets: {LEVEL:.0%} t-intervals of each cost over {seeds} seeds, paired by seed (each seed's run "
            f"against the same seed's run at D={reference.unique_samples}); a cost whose interval excludes 0 lies "
            "outside the seed spread.")


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


def _barely_learned(points: list[PointSummary], reference: PointSummary, landmarks: Landmarks) -> list[str]:
    """The D values whose loss fell by less than a tenth of what the reference's fell, in words."""
    start = landmarks.initial if landmarks.initial is not None else landmarks.uniform
    learned = start - reference.final.mean
    if learned <= 0:
        return []
    barely = [p for p in points if p is not reference and (start - p.final.mean) < BARELY_LEARNED * learned]
    if not barely:
        return []
    ends = ", ".join(f"D={p.unique_samples} ends at {p.final.mean:.3f}" for p in barely)
    before = (f" and {landmarks.initial:.3f} before training" if landmarks.initial is not None
              else " (the loss before training was not measured for these runs)")
    return [f"Barely learned (less than a tenth of the loss drop of D={reference.unique_samples}): {ends}, against "
            f"ln {landmarks.vocab_size:,} = {landmarks.uniform:.3f} for a uniform guess over the vocabulary{before}."]


def _loss_table(points: list[PointSummary], reference: PointSummary) -> Table:
    rows = []
    for p in points:
        cost = relative_costs(p.finals, reference.finals)
        rows.append([
            str(p.unique_samples), f"{p.epochs:g}", _spread(p.final),
            "–" if p.final_bits_per_byte is None else f"{p.final_bits_per_byte:.4f}", _spread(p.best),
            f"{p.best_step.mean:.0f}", "reference" if p is reference else _cost(cost),
        ])
    header = ["D", "epochs", "final val loss", "final bits/byte", "best val loss", "step of best",
              f"final vs D={reference.unique_samples}"]
    return Table(header, rows, [True] * len(header))


def _spread_note(points: list[PointSummary], reference: PointSummary) -> Paragraph:
    seeds = max(p.final.count for p in points)
    if seeds == 1:
        return Paragraph("One seed per D: no spread can be given.")
    return Paragraph(f"Losses: mean over {seeds} seeds, brackets the lowest and highest seed. Costs: {LEVEL:.0%} "
                     f"t-intervals of the per-seed cost against the same seed at D={reference.unique_samples}.")


def _spread(spread: Spread) -> str:
    if spread.count == 1:
        return f"{spread.mean:.3f}"
    return f"{spread.mean:.3f} [{spread.low:.3f}, {spread.high:.3f}]"

