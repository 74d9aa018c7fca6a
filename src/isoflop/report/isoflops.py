"""The isoFLOP study's report: the runs, approach 2 (a parabola per budget, N*/D* vs C, the frontier),
approach 3 (L(N, D)), and the plots. Fits run here on plain run records."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config.studies import IsoflopsConfig
from ..errors import UsageError
from ..fit.api import (EMBEDDING_SHARE_WARNING, HEADLINE_WHY, FitOutcome, add_other_count, add_robustness,
                       fit_outcome, fitted_range, join_approach3)
from ..fit.checks import allocation_problems, frontier_problems, unreliable_line
from ..fit.isoflop_profiles import Frontier
from ..fit.leave_one_out import LeaveOneOut
from ..fit.settings import FitSettings
from ..fit.robustness import variant_name
from ..fit.points import HEADLINE_COUNT, PARAMETER_COUNTS, table_from_records
from ..results.records import RunRecord
from .document import Bullets, Document, Figure, Paragraph, Section, Table
from .aggregate import at_setting
from .isoflop_axes import tuned_runs
from .isoflop_plots import plot_allocation, plot_contours, plot_frontier, plot_profiles, plot_robustness
from .tables import closing_sections, speed_line

TITLE = "isoFLOP profiles and the compute-optimal model"


def build_report(runs: list[RunRecord], config: IsoflopsConfig, notes: list[str], vocab_size: int) -> Document:
    """The isoFLOP study's report: profiles, the compute-optimal allocation, the laws and their checks."""
    folder = Path(config.output)
    fitted = at_setting(runs, config.settings()[0].values)  # runs of an axis since dropped stay out
    intro = [Paragraph(_setup(config, fitted) + " " + compute_line(fitted) + speed_line(fitted))]
    sections: list[Section] = []
    answer: list[str] = []
    if config.grid:
        fitted, tuned = tuned_runs(runs, config)
        sections.append(tuned)
    try:
        tables = {count: table_from_records(fitted, count=count) for count in PARAMETER_COUNTS}
    except UsageError as error:
        tables = None
        answer.append(f"No fit: {error}.")
    if tables is not None:
        sections.append(Section("Every run the laws are fitted on (one row per run; each budget's N* is in the answer)",
                                [_runs_table(fitted)]))
        answer, fit_sections = _fits(tables, config, folder)
        if config.grid:
            answer.insert(1, "Fitted on each (budget, size)'s best setting over the axes "
                             f"({', '.join(config.grid)}): see 'Best setting per budget and size'.")
        sections += fit_sections
    if any(r.trained_flops is not None and r.trained_flops < r.train_flops for r in fitted):
        answer.append(compute_line(fitted).removeprefix("**Compute.** "))
    sections += closing_sections("isoflops", runs, notes)
    return Document(TITLE, intro, answer, sections, runs)


def study_fits(tables: dict, config: IsoflopsConfig) -> dict[int, FitOutcome | str]:
    """Approaches 2 and 3 on the headline count with the other count beside each: what ``isoflop fit FOLDER
    --approach 2|3`` gives with the report's settings (``fit_settings``), or why there is no fit."""
    headline, other = tables[HEADLINE_COUNT], tables[next(c for c in PARAMETER_COUNTS if c != HEADLINE_COUNT)]
    fits: dict[int, FitOutcome | str] = {}
    for approach in (2, 3):
        settings = fit_settings(config, approach)
        try:
            fits[approach] = fit_outcome(headline, settings)
            add_other_count(fits[approach].result, headline, other, settings)
        except UsageError as error:
            fits[approach] = str(error)
    if isinstance(fits[2], FitOutcome) and isinstance(fits[3], FitOutcome):
        join_approach3(fits[2], fits[3], headline, fit_settings(config, 3))
    if config.fit.robustness and isinstance(fits[3], FitOutcome):
        add_robustness(fits[3], {HEADLINE_COUNT: headline, other.parameter_count: other}, fit_settings(config, 3))
    return fits


def fit_settings(config: IsoflopsConfig, approach: int) -> FitSettings:
    """The report's fit settings for ``approach``, as ``isoflop fit`` options would give them."""
    fit = config.fit if approach == 2 else config.fit.model_copy(update={"holdout_largest": False})  # approach 2's check
    return FitSettings(approach=approach, config=fit)


def _fits(tables: dict, config: IsoflopsConfig, folder: Path) -> tuple[list[str], list[Section]]:
    table = tables[HEADLINE_COUNT]
    fits = study_fits(tables, config)
    answer: list[str] = []
    figures: list[Figure] = []
    sections: list[Section] = []
    second = fits[2]
    allocation = second.allocation if isinstance(second, FitOutcome) else None
    figures.append(Figure(plot_profiles(table, table.budgets(), allocation, folder), "isoFLOP profiles"))
    if isinstance(second, str):
        answer.append(f"Approach 2: no fit ({second}).")
    else:
        answer += _approach2_answer(second, table, folder, figures)
    third = fits[3]
    if isinstance(third, str):
        sections.append(Section("Approach 3", [Paragraph(f"No fit ({third}).")]))
    else:
        problems = third.result["problems"]
        if problems:
            line = _unreliable("L(N, D) law", problems, 3)
        else:
            line = _law_line(third.law, table)
            figures.append(Figure(plot_contours(third.law, table, folder), "predicted loss contours and the compute-optimal path"))
        paragraphs = [Paragraph(line)]
        if "leave_one_out" in third.result and not problems:  # an unreliable law's forecasts say nothing
            paragraphs.append(Paragraph(LeaveOneOut.from_dict(third.result["leave_one_out"]).sentence()))
        sections.append(Section("Approach 3: L(N, D) = E + A/N^α + B/D^β", paragraphs))
    sections.append(_counts_section(fits))
    sections.append(Section("Reproducing these fits", [Bullets(
        [f"Approach {approach}: `{fit_settings(config, approach).command(str(folder))}` (add `--json` for every number)"
         for approach in (2, 3)])]))
    if isinstance(third, FitOutcome) and "robustness" in third.result:
        panel = third.result["robustness"]
        sections.append(_robustness_section(panel))
        figures.append(Figure(plot_robustness(panel, folder), "the robustness panel: a, b, N* and L* under each choice"))
    sections.append(Section("Plots", figures))
    return answer, sections


def _headline(fit: FitOutcome) -> str:
    """The answer in one sentence: how the compute-optimal size grows, where the largest budget's optimum lies, and
    the forecast at ten times that budget, each with its interval (or why there is none)."""
    allocation = fit.allocation
    largest = max(allocation.minima, key=lambda m: m.flops)
    at_largest = (f"at the largest budget, C = {largest.flops:.3g} FLOPs, the compute-optimal model has "
                  f"N* = {largest.n_opt:,.0f} parameters and reaches loss {largest.loss:.4f}")
    if allocation_problems(allocation):
        return f"In short: {at_largest}; these runs do not give a reliable law of how N* grows (below)."
    n_law = allocation.n_law
    words = (f"In short: the compute-optimal size grows as N*(C) ∝ C^{n_law.exponent:.3f}{_interval(n_law)} (N counts "
             f"total parameters); {at_largest}")
    law = fit.forecast
    if law is not None and fit.frontier is not None and not frontier_problems(fit.frontier, [m.loss for m in allocation.minima]):
        target = law.fitted_range[1] * FORECAST_FACTOR
        best = law.predict(target)
        if best.interval is not None:
            words += (f"; at {FORECAST_FACTOR:g}× that budget the law forecasts L* = {best.value:.4f} "
                      f"[{best.interval[0]:.4f}, {best.interval[1]:.4f}]")
    return words + "."


def _approach2_answer(fit: FitOutcome, table, folder: Path, figures: list[Figure]) -> list[str]:
    allocation, result = fit.allocation, fit.result
    answer = [_headline(fit), "Approach 2 (a parabola of loss in log N per budget; N counts total parameters):"]
    for m in allocation.minima:
        answer.append(f"C = {m.flops:.3g} FLOPs: compute-optimal N* = {m.n_opt:,.0f} parameters, "
                      f"D* = {m.d_opt:,.0f} tokens ({m.d_opt / m.n_opt:.1f} tokens per parameter), loss {m.loss:.4f} "
                      f"({m.sizes_below} sizes trained below N*, {m.sizes_above} above"
                      + (": pinned on both sides)" if min(m.sizes_below, m.sizes_above) >= 2 else
                         "; fewer than 2 on a side: this minimum leans on the parabola's shape)"))
    n_law, d_law = allocation.n_law, allocation.d_law
    problems = allocation_problems(allocation)
    other = result["other_count"]
    beside = (f"; with non-embedding N, N*(C) ∝ C^{other['N_opt']['exponent']:.3f}"
              f"{_pair(other['N_opt']['exponent_interval'])}" if "N_opt" in other else "")
    if problems:
        answer.append(_unreliable("N*(C), D*(C) power law", problems, 2))
    else:
        answer.append(f"N*(C) ∝ C^{n_law.exponent:.3f}{_interval(n_law)}, D*(C) ∝ C^{d_law.exponent:.3f}{_interval(d_law)} "
                      f"(Hoffmann et al. found about 0.5 and 0.5{_exponent_sum(table.budget_count())}){beside}")
        figures.append(Figure(plot_allocation(allocation, folder), "compute-optimal N* and D* vs C"))
    answer += [f"No compute-optimal size for C = {reason}." for reason in allocation.skipped]
    frontier = fit.frontier
    if frontier is not None:
        problems = frontier_problems(frontier, [m.loss for m in allocation.minima])
        if problems:
            answer.append(_unreliable("loss frontier L*(C)", problems, 2))
        else:
            allocation_line = ("" if allocation_problems(allocation) else
                               f", with N*(C) ∝ C^{n_law.exponent:.3f}{_interval(n_law)} and "
                               f"D*(C) ∝ C^{d_law.exponent:.3f}{_interval(d_law)}")
            answer.append(f"**The scaling law**: {frontier.describe()}{allocation_line} (95% intervals: a and b from "
                          "resampled runs with each budget's parabola refitted, studentized; the frontier's coefficients "
                          "from resampled minima; N counts total parameters).")
            answer += _frontier_at_largest(frontier, result.get("allocation_intervals"))
            answer += _forecast_lines(fit.forecast, result.get("forecast_approach3"))
            figures.append(Figure(plot_frontier(allocation, frontier, folder, fit.holdout, fit.forecast),
                                  "the loss frontier L*(C)"))
        if fit.holdout is not None:
            answer.append(fit.holdout.sentence())
    if "leave_one_out" in result:
        answer.append(LeaveOneOut.from_dict(result["leave_one_out"]).sentence())
    answer += [f"{name} check not run: {result[key]}." for name, key in
               (("Hold-out", "holdout_not_run"), ("Leave-one-budget-out", "leave_one_out_not_run")) if key in result]
    return answer


def _frontier_at_largest(frontier: Frontier, intervals: dict | None) -> list[str]:
    """The frontier's L* at the largest budget with its calibrated interval (runs resampled, studentized)."""
    if not intervals or not all(np.isfinite(intervals["loss_at_largest"])):
        return []
    low, high = intervals["loss_at_largest"]
    return [f"At the largest budget the frontier gives L*({intervals['C']:.3g}) = {float(frontier(intervals['C'])):.4f} "
            f"[{low:.4f}, {high:.4f}] (runs resampled, studentized on {intervals['residual_freedom']} residual degrees "
            "of freedom: the interval benchmarks/coverage.py found to cover 93 % of a nominal 95 % on the default "
            "study's design, where the minima bootstrap covered 84 %)."]


# The report's forecast: this many times the largest budget, as the robustness panel's target.
FORECAST_FACTOR = 10.0


def _forecast_lines(law, approach3: str | None) -> list[str]:
    """The forecast a lab would act on, at ten times the largest budget: L* and a new run's loss, N*, with intervals;
    approach 3 beside it (its own L* and weight where it joined the forms, why not where it did not)."""
    if law is None:
        return []
    target = law.fitted_range[1] * FORECAST_FACTOR
    best, size = law.predict(target), law.optimal_size(target)
    if best.interval is None:
        return [f"Forecast at C = {target:.3g}: L* = {best.value:.4f}, no interval ({best.notes[0]})."]
    run = law.predict(target, "new run") if law.frontier.run_sigma is not None else None
    run_words = (f"; one new run there: {run.value:.4f} [{run.interval[0]:.4f}, {run.interval[1]:.4f}]" if run else "")
    size_words = (f"N* = {size.value:,.0f} [{size.interval[0]:,.0f}, {size.interval[1]:,.0f}] parameters ({law.parameters})"
                  if size.interval else f"N* = {size.value:,.0f} parameters ({law.parameters})")
    beside = ""
    if "approach 3" in best.forms:
        third = best.forms["approach 3"]
        beside = (f" Approach 3 alone gives L* = {third['value']:.4f} there ({third['value'] / best.value - 1:+.1%}) and "
                  f"joined the forms with weight {third['weight']:.2f}.")
    elif approach3:
        beside = f" Approach 3 did not join the forecast: {approach3}."
    return [f"**Forecast** at C = {target:.3g} ({best.extrapolation:.2f} fitted log-ranges beyond the data): "
            f"L* = {best.value:.4f} [{best.interval[0]:.4f}, {best.interval[1]:.4f}] (95 %, the law's value){run_words}; "
            f"{size_words}. Intervals: {best.method}.{beside}"]


def _counts_section(fits: dict) -> Section:
    """Both parameter counts side by side, the embedding share of every size, and C/(N·D) per budget."""
    blocks = [Paragraph(f"{HEADLINE_WHY}. The same runs fitted with N = non-embedding parameters (C unchanged) give:")]
    rows = []
    for approach, fit in fits.items():
        if isinstance(fit, str):
            continue
        result, other = fit.result, fit.result["other_count"]
        if approach == 2 and "N_opt" in other:
            for key, symbol in (("N_opt", "a: N*(C) ∝ C^a"), ("D_opt", "b: D*(C) ∝ C^b")):
                rows.append([f"approach 2, {symbol}", *(f"{r[key]['exponent']:.3f}{_pair(r[key]['exponent_interval'])}"
                                                         for r in (result, other))])
        if approach == 3 and "law" in other and (result["problems"] or other["problems"]):
            rows.append(["approach 3", *("unreliable (see Approach 3)" if r["problems"] else "reliable"
                                         for r in (result, other))])
        elif approach == 3 and "law" in other:
            for name in ("alpha", "beta", "a", "b"):
                rows.append([f"approach 3, {name}", *(f"{r['law'][name]:.3f}{_pair(r['law']['intervals'].get(name))}"
                                                      for r in (result, other))])
    blocks.append(Table(["quantity", "total N (headline)", "non-embedding N"], rows, [False, True, True]))
    shares = next((fit.result["embedding_shares"] for fit in fits.values() if isinstance(fit, FitOutcome)), [])
    heavy = [s for s in shares if s["embedding_share"] > EMBEDDING_SHARE_WARNING]
    blocks.append(Table(["total N", "non-embedding N", "embedding share"],
                        [[f"{s['total']:,.0f}", f"{s['non_embedding']:,.0f}", f"{s['embedding_share']:.0%}"] for s in shares],
                        [True, True, True]))
    if heavy:
        blocks.append(Paragraph(f"**Warning:** embeddings are over {EMBEDDING_SHARE_WARNING:.0%} of {len(heavy)} of the "
                                f"{len(shares)} trained sizes, so the two counts' laws differ; quote the count with the law."))
    second = fits.get(2)
    if isinstance(second, FitOutcome):
        factors = ", ".join(f"C = {m['C']:.3g}: {m['flop_factor']:.2f}" for m in second.result["minima"])
        blocks.append(Paragraph(f"The FLOP factor k = C/(N*·D*) at each budget's minimum (total N; Chinchilla's 6N "
                                f"convention has k = 6): {factors}."))
    return Section("Parameter counts", blocks)


def _robustness_section(panel: dict) -> Section:
    rows = [[variant_name(v), f"{v['a']:.3f}", f"{v['b']:.3f}", f"{v['n_opt']:,.0f}", f"{v['loss']:.4f}"]
            for v in panel["variants"]]
    spread = panel["spread"]
    text = (f"The same runs under each reasonable choice, forecasting C = {panel['target_C']:.3g} (ten times the largest "
            f"budget). Across the rows a spans {spread['a'][0]:.3f}–{spread['a'][1]:.3f} and N* "
            f"{spread['n_opt'][0]:,.0f}–{spread['n_opt'][1]:,.0f} ({spread['n_opt'][1] / spread['n_opt'][0]:.1f}×): that "
            "much of the answer is choice, not data." if spread else "No variant had an answer.")
    blocks = [Paragraph(text), Table(["variant", "a", "b", "N* at target", "L* at target"], rows,
                                     [False, True, True, True, True])]
    if panel["missing"]:
        blocks.append(Paragraph("No answer: " + "; ".join(panel["missing"]) + "."))
    return Section("Robustness", blocks)


def _pair(pair) -> str:
    if pair is None or not all(v is not None and np.isfinite(v) for v in pair):
        return ""
    return f" [{pair[0]:.3f}, {pair[1]:.3f}]"


def _exponent_sum(count) -> str:
    """Why a + b need not be 1: under the full count, FLOPs per token grow as N^k with k < 1 for small models."""
    if count.convention == "6N" or len(count.sizes) < 2:
        return ""
    k = float(np.polyfit(np.log(count.sizes), np.log(count.per_token), 1)[0])
    if abs(k - 1) < 0.05:
        return ""
    return (f"; here FLOPs per token grow as N^{k:.2f} over the trained sizes, attention, embeddings and the LM head "
            f"weighing on small models, so C = D·FLOPs-per-token gives a·{k:.2f} + b = 1, not a + b = 1")


def _law_line(law, table) -> str:
    ci = law.intervals

    def interval(name: str) -> str:
        return f" [{ci[name][0]:.3f}, {ci[name][1]:.3f}]" if name in ci else " (no interval: no bootstrap)"

    span = fitted_range(table)["N"]
    return (f"E = {law.E:.3f}{interval('E')}, A = {law.A:.3g}, B = {law.B:.3g}, α = {law.alpha:.3f}{interval('alpha')}, "
            f"β = {law.beta:.3f}{interval('beta')}; N* ∝ C^{law.a:.3f}, D* ∝ C^{law.b:.3f} "
            f"(fitted on N {span[0]:.3g}–{span[1]:.3g}).")


def _unreliable(what: str, problems: list[str], approach: int) -> str:
    line = unreliable_line(what, problems)
    return (line[0].upper() + line[1:]
            + f". `isoflop fit FOLDER --approach {approach} --force` shows the fitted numbers, marked.")


def _runs_table(runs: list[RunRecord]) -> Table:
    done = sorted((r for r in runs if r.completed), key=lambda r: (r.budget_flops, r.non_embedding_parameters, r.seed))
    rows = [[f"{r.budget_flops:.3g}", r.model, f"{r.parameters:,}", f"{r.non_embedding_parameters:,}", f"{r.tokens:,.0f}",
             f"{r.epochs:.2f}", f"{r.final_val_loss:.4f}", f"{r.bits_per_byte:.4f}"] for r in done]
    header = ["C (FLOPs)", "size", "N total", "N non-emb.", "D (tokens)", "epochs", "final loss", "bits/byte"]
    return Table(header, rows, [True, False, True, True, True, True, True, True])


def _interval(law) -> str:
    low, high = law.exponent_interval
    if not np.isfinite(low):
        return " (no interval: a line through 2 budgets)"
    if high - low <= 1e-9 * max(1.0, abs(low)):
        return " (no interval: every resample of the runs gives the same exponent; more budgets would measure it)"
    return f" [{low:.3f}, {high:.3f}]"


def _rates(config: IsoflopsConfig) -> str:
    """The peak learning rate, or each size's where they differ, or the rules that set them."""
    optimizer = config.optimizer
    rules = [f"{name} by the {rule} rule" for name, rule in (("lr", optimizer.lr_rule), ("batch", optimizer.batch_rule),
                                                             ("beta2", optimizer.beta2_rule)) if rule not in (None, "table")]
    if rules:
        return ", ".join(rules) + " (each run's values in its config, under 'resolved')"
    rates = {size: config.learning_rate_of(size) for size in config.model_sizes}
    if len(set(rates.values())) == 1:
        return f"lr {next(iter(rates.values())):g}"
    return "lr per size " + ", ".join(f"{size} {rate:g}" for size, rate in rates.items())


def compute_line(runs: list[RunRecord]) -> str:
    """The training FLOPs the runs represent (each a training of its budget), and those actually computed: fewer
    where wsd runs branched from a shared trunk."""
    represented = sum(r.train_flops for r in runs)
    trained = sum(r.train_flops if r.trained_flops is None else r.trained_flops for r in runs)
    if not runs:
        return ""
    counted = "training FLOPs (" + " and ".join(sorted({r.flop_convention for r in runs})) + " count)"
    if trained >= represented * (1 - 1e-9):
        return f"**Compute.** {len(runs)} runs, {represented:.3g} {counted}, each run trained from scratch."
    return (f"**Compute.** {len(runs)} runs represent {represented:.3g} {counted}, each a training of its budget in "
            f"every fit; {trained:.3g} were computed, {trained / represented:.2f}× ({1 - trained / represented:.0%} saved), "
            "each size's budgets branching from one constant-rate trunk.")


def _setup(config: IsoflopsConfig, runs: list[RunRecord]) -> str:
    data, optimizer = config.data, config.optimizer
    return (f"**Setup.** Budgets {', '.join(f'{b:.3g}' for b in config.budgets)} FLOPs ({config.flop_convention} convention), "
            f"sizes {', '.join(config.model_sizes)}, tokenizer `{config.tokenizer.tokenizer}`, data `{data.train_data}` "
            f"({data.chunking}, {data.seq_len} tokens × batch {optimizer.batch_size}), {_rates(config)} "
            f"with {optimizer.describe_schedule()}"
            + (f", unique tokens capped at {config.unique_tokens:,} (the largest run reads them "
               f"{max(r.tokens for r in runs) / config.unique_tokens:.1f} times: it repeats data)"
               if config.unique_tokens and runs else "") + ".")
