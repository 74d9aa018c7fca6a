"""Bracketing: each budget trains the sizes that pin its loss minimum, added in rounds as results come in."""

import math

import numpy as np
import pytest

from helpers import SIZES, synthetic_study
from isoflop import build_config, run_study
from isoflop.fit.isoflop_profiles import budget_minimum
from isoflop.models.families import scratch_facts
from isoflop.models.specs import LADDER
from isoflop.studies.bracket import SizeResults, bracket, initial_window
from isoflop.studies.isoflops import plan



def ladder(losses: dict[str, float], unusable=(), unresolved=()) -> list[SizeResults]:
    return [
        SizeResults(size, 12 * LADDER[size].n_layer * LADDER[size].n_embd**2, size not in unusable,
                    (losses[size],) if size in losses else (), size in losses and size not in unresolved)
        for size in SIZES
    ]


def parabola(centre: str | float, sizes) -> dict[str, float]:
    """Losses convex in ln N with their minimum at ``centre`` (a size, or a number of parameters)."""
    middle = math.log(centre if isinstance(centre, float) else 12 * LADDER[centre].n_layer * LADDER[centre].n_embd**2)
    return {s: 2.0 + 0.1 * (math.log(12 * LADDER[s].n_layer * LADDER[s].n_embd**2) - middle) ** 2 for s in sizes}


def test_first_windows_follow_the_diagonal_from_small_sizes_to_large():
    budgets = (1e11, 3e11, 1e12)
    windows = [initial_window(budgets, b, len(SIZES), 2) for b in budgets]
    assert windows[0] == range(0, 5) and windows[-1] == range(3, 8)
    assert all(len(w) == 5 for w in windows) and windows[0].start < windows[1].start < windows[2].start
    assert initial_window((1e11,), 1e11, len(SIZES), 2) == range(2, 7)  # one budget: the middle of the ladder
    assert initial_window(budgets, 1e11, 4, 2) == range(4)  # a short ladder is trained whole


def test_a_minimum_at_the_window_edge_gets_sizes_added_beyond_it():
    window = range(0, 5)  # 0.8k .. 12k, the losses still falling at 12k
    chosen, note = bracket(1e12, window, ladder(parabola("50k", SIZES[:5])), 2)
    assert chosen == list(SIZES[:7]) and note is None
    chosen, note = bracket(1e12, window, ladder(parabola(300.0, SIZES[:5])), 2)
    assert chosen == list(SIZES[:5]) and "0 size(s) below it (add smaller --model-sizes)" in note


def test_a_bracketed_minimum_adds_nothing_and_open_results_wait():
    window = range(1, 6)
    done = parabola("6k", SIZES[1:6])
    assert bracket(3e11, window, ladder(done), 2) == (list(SIZES[1:6]), None)
    waiting = ladder(parabola("50k", SIZES[1:6]), unresolved=("25k",))
    assert bracket(3e11, window, waiting, 2) == (list(SIZES[1:6]), None)  # no decision before the round ends


def test_sizes_too_big_for_the_budget_are_never_added_and_say_why():
    chosen, note = bracket(1e10, range(3, 8), ladder(parabola("100k", SIZES[3:6]), unusable=("50k", "100k")), 2)
    assert chosen == list(SIZES[3:6]) and "0 size(s) above it (the larger sizes get fewer than --min-steps" in note


def sides(records, budget):
    N = np.array([r.non_embedding_parameters for r in records], dtype=float)
    found = budget_minimum(N, N, np.array([r.final_val_loss for r in records]), np.array([r.budget_flops for r in records]),
                           budget)
    return found.sizes_below, found.sizes_above


@pytest.mark.slow  # 11 s of fits and plots; the second-round test below keeps bracketing in the default tier
def test_a_bracketed_study_pins_every_minimum_in_fewer_runs_and_resumes(tmp_path):
    settings, outcome, lines, records = synthetic_study(tmp_path)
    assert all(min(sides(records, budget)) >= 2 for budget in settings["budgets"])
    full_grid = len(SIZES) * len(settings["budgets"])
    assert outcome.trained == len(records) == 15 < full_grid and lines == []  # the diagonal was right: one round
    assert any(f"{len(records)} of the" in line for line in (tmp_path / "out" / "summary.md").read_text().splitlines())
    rerun = run_study(build_config(overrides=settings, kind="isoflops"), echo=lambda line: None, progress=False)
    assert (rerun.trained, rerun.skipped) == (0, len(records))
    everything = plan(build_config(overrides=settings | {"bracket": 0, "engine": "fast"}, kind="isoflops"), 257,
                      lambda spec: scratch_facts("gpt2", LADDER[spec.split(":")[1]], 257))
    # The same study (keyed by the engine auto chose): bracketing changes which runs there are, never their keys.
    assert {r.key for r in records} < {run.spec.key for run in everything.runs}


def test_a_minimum_off_the_first_window_is_reached_in_a_second_round(tmp_path):
    # One budget starts on the middle of the ladder (3k–50k); its minimum lies lower, so round 2 adds 0.8k and 2k.
    settings, outcome, lines, records = synthetic_study(tmp_path, budgets=(3e8,))
    assert lines == ["round 2: 2 more run(s), planned from the results so far"]
    assert [r.grid["size"] for r in records] == list(SIZES[:7]) and min(sides(records, 3e8)) >= 2
