"""The written answer: ``summary.md`` in plain words and numbers."""

from __future__ import annotations

from typing import Any

from .aggregate import PointSummary, baseline, relative_cost
from .plots import CURVES, LOSS_VS_D


def scarcity_summary(points: list[PointSummary], context: dict[str, Any], failures: list[str]) -> str:
    config = context["config"]
    lines = [
        "# Data scarcity at a fixed compute budget",
        "",
        f"**Question.** With a fixed budget of {config['budget_passes']} forward+backward passes "
        f"({config['budget_passes'] * config['seq_len']:,} training tokens, {context['train_flops']:.3g} training FLOPs), "
        "how much does having fewer unique training samples D hurt?",
        "",
        f"**Setup.** Model `{config['model']}` ({context['parameters']:,} parameters), tokenizer `{config['tokenizer']}`, "
        f"data `{config['train_data']}` ({config['chunking']} chunking, {config['seq_len']} tokens per sample), "
        f"batch size {config['batch_size']}, learning rate {config['learning_rate']:g} (AdamW, linear decay, no warmup), "
        f"{config['eval_samples']} validation samples evaluated after every step, seeds {list(config['seeds'])}, "
        f"engine `{config['engine']}`. Losses are validation cross-entropy in nats per token.",
        "",
    ]
    if not points:
        lines += ["No run completed, so there is no answer yet.", ""]
        return "\n".join(lines + _failure_lines(failures))
    reference = baseline(points)
    lines += ["## Answer", "", *_answer(points, reference), "", "## Loss at each D", ""]
    lines += [
        f"| D | epochs | final val loss | best val loss | step of best | final vs D={reference.unique_samples} |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for p in points:
        cost = relative_cost(p.final.mean, reference.final.mean)
        lines.append(
            f"| {p.unique_samples} | {p.epochs:g} | {_spread(p.final)} | {_spread(p.best)} | "
            f"{p.best_step.mean:.0f} | {cost:+.1%} |"
        )
    seeds = max(p.final.count for p in points)
    if seeds > 1:
        lines += ["", f"Mean over {seeds} seeds; brackets give the lowest and highest seed."]
    lines += [
        "",
        "## Plots",
        "",
        f"![final and best validation loss vs D]({LOSS_VS_D}.png)",
        "",
        f"![validation curves per D]({CURVES}.png)",
        "",
    ]
    return "\n".join(lines + _failure_lines(failures))


def _answer(points: list[PointSummary], reference: PointSummary) -> list[str]:
    if abs(reference.epochs - 1.0) < 1e-9:
        ref_words = f"one epoch of unique data (D={reference.unique_samples})"
    else:
        ref_words = f"the largest D in the grid (D={reference.unique_samples}, {reference.epochs:g} epochs; no D gives exactly one epoch)"
    smallest = points[0]
    out = [
        f"- Compared with {ref_words}, which ends at a validation loss of {reference.final.mean:.3f}:",
    ]
    for p in points:
        if p is reference:
            continue
        cost = relative_cost(p.final.mean, reference.final.mean)
        out.append(
            f"  - D={p.unique_samples} ({p.epochs:g} epochs): {p.final.mean:.3f}, {cost:+.1%}"
            f" (best during training {p.best.mean:.3f}, {relative_cost(p.best.mean, reference.best.mean):+.1%} vs its best)"
        )
    worst = relative_cost(smallest.final.mean, reference.final.mean)
    out.append(
        f"- In short: repeating D={smallest.unique_samples} sample(s) for {smallest.epochs:g} epochs costs {worst:+.1%} "
        f"in final validation loss against {ref_words.split(' (')[0]}."
    )
    out.append(_overfitting(points))
    return out


def _overfitting(points: list[PointSummary]) -> str:
    steps = len(points[0].curve)
    overfit = [p for p in points if p.best_step.mean < steps and p.final.mean - p.best.mean > 1e-3]
    if not overfit:
        return f"- No overfitting within {steps} steps: for every D the validation loss is lowest at the end."
    described = ", ".join(
        f"D={p.unique_samples} at step {p.best_step.mean:.0f} (then +{p.final.mean - p.best.mean:.3f})" for p in overfit
    )
    largest = max(p.unique_samples for p in overfit)
    return (
        f"- Overfitting (validation loss bottoming out, then rising) shows for D ≤ {largest}: best at {described}."
    )


def _spread(spread) -> str:
    if spread.count == 1:
        return f"{spread.mean:.3f}"
    return f"{spread.mean:.3f} [{spread.low:.3f}, {spread.high:.3f}]"


def _failure_lines(failures: list[str]) -> list[str]:
    if not failures:
        return []
    return ["## Failed runs", "", *[f"- {f}" for f in failures], ""]
