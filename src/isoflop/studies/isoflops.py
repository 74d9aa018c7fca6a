"""The isoFLOP study: at each compute budget C, train several model sizes N on D = C / FLOPs-per-token.

Pure planning: parameter and FLOP counts come from the architecture's formula. The
minimum of final loss over N at fixed C is the compute-optimal model for C; across
budgets, the minima give N*(C), D*(C) and the loss frontier L*(C) (Hoffmann et al. 2022).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..models.counts import flops_per_token
from ..training.rules import resolved, rule_values
from ..config.studies import IsoflopsConfig
from ..data.order import stream_unique
from ..engines.base import RunSpec
from ..errors import UsageError
from ..keys import stable_key
from ..results.records import RunRecord
from .base import FactsOf, Plan, PlannedRun, StudyKind
from .bracket import SizeResults, bracket, initial_window


def plan(config: IsoflopsConfig, vocab_size: int, facts_of: FactsOf, records: Sequence[RunRecord] = ()) -> Plan:
    """The (budget, size, seed) runs to train given the study's stored ``records``: with ``bracket`` K, the
    sizes each budget needs to have K on each side of its loss minimum (``studies.bracket``; more as results
    come in); with 0, every size at every budget. Sizes with fewer than ``min_steps`` steps are left out."""
    runs, notes = [], []
    for axis_point in config.settings():
        setting, point = axis_point.setting, axis_point.config
        point_runs, point_notes = _plan_point(point, setting, facts_of, records)
        runs += point_runs
        notes += point_notes
    return Plan(runs, notes)


def _plan_point(config: IsoflopsConfig, setting: dict, facts_of: FactsOf, records: Sequence[RunRecord]):
    """The runs of one point of the study's axes (each point brackets its own minima), and the plan's notes."""
    identity = config.identity()
    by_budget = {budget: [_planned(config, identity, setting, budget, size, facts_of) for size in config.model_sizes]
                 for budget in config.budgets}
    if not any(runs for sizes in by_budget.values() for runs in sizes):
        raise UsageError(
            f"every model size is too big for every budget (fewer than {config.min_steps} steps); "
            "raise --budgets or choose smaller --model-sizes"
        )
    if not config.bracket:
        runs = [run for sizes in by_budget.values() for size_runs in sizes for run in size_runs]
        too_big = [f"{size} at C={budget:.3g}" for budget, sizes in by_budget.items()
                   for size, size_runs in zip(config.model_sizes, sizes) if not size_runs]
        return runs, [f"Skipped as too big for their budget: {'; '.join(too_big)}."] if too_big else []
    stored = {record.key: record for record in records}
    runs, notes = [], []
    for budget, sizes in by_budget.items():
        ladder = [_results(size, config.model_options.scratch(size), facts_of, size_runs, stored)
                  for size, size_runs in zip(config.model_sizes, sizes)]
        window = initial_window(config.budgets, budget, len(ladder), config.bracket)
        chosen, note = bracket(budget, window, ladder, config.bracket)
        runs += [run for size, size_runs in zip(config.model_sizes, sizes) if size in chosen for run in size_runs]
        notes += [note] if note else []
    usable = sum(bool(size_runs) for sizes in by_budget.values() for size_runs in sizes)
    pairs = len({(run.budget_flops, run.model_name) for run in runs})
    at = "".join(f" at {name}={value:g}" for name, value in setting.items())
    notes.append(f"Bracketing ({config.bracket} sizes on each side of each budget's minimum, --bracket){at}: "
                 f"{pairs} of the {usable} (budget, size) pairs the ladder allows were trained.")
    return runs, notes


def _planned(config: IsoflopsConfig, identity: dict, setting: dict, budget: float, size: str,
             facts_of: FactsOf) -> list[PlannedRun]:
    """One run per seed of ``size`` at ``budget``; none when the budget buys it fewer than ``min_steps`` steps."""
    seq_len = config.data.seq_len
    facts = facts_of(config.model_options.scratch(size))
    per_token = flops_per_token(facts, seq_len, config.flop_convention)
    optimizer = resolved(config.optimizer, facts.parameters.non_embedding, budget / per_token, seq_len,
                         config.size_learning_rates.get(size))
    batch_size = optimizer.batch_size
    steps = round(budget / per_token / (batch_size * seq_len))
    if steps < config.min_steps or steps - optimizer.cooldown_for(steps) < optimizer.warmup_for(steps):
        return []  # too big for the budget (or, with wsd, too short for its warmup and cooldown)
    passes = steps * batch_size
    pool = None if config.unique_tokens is None else config.unique_tokens // seq_len
    if pool is not None and pool < 1:
        raise UsageError(f"--unique-tokens {config.unique_tokens} is less than one {seq_len}-token sample")
    # wsd runs of one size share a trunk (training.trunks): their samples come from one stream per seed.
    order = "stream" if optimizer.schedule == "wsd" else "epochs"
    unique_samples = stream_unique(passes, pool) if order == "stream" else min(passes, pool or passes)
    runs = []
    for seed in config.seeds:
        grid = {"budget": budget, "size": size, **setting}
        run_config = {**identity, **grid, "seed": seed} | rule_values(config.optimizer, optimizer)
        trunk = stable_key({**identity, "size": size, **setting, "seed": seed}) if order == "stream" else None
        spec = RunSpec(
            key=stable_key(run_config),
            label=f"{size} at C={budget:.3g} seed={seed}" + "".join(f" {n}={v:g}" for n, v in setting.items()),
            seed=seed,
            model=config.model_options.scratch(size),
            dropout=config.model_options.dropout,
            unique_samples=unique_samples,
            steps=steps,
            optimizer=optimizer,
            eval_steps=config.evaluation.eval_steps(steps),
            order=order,
            pool=pool if order == "stream" else None,
            trunk=trunk,
        )
        runs.append(PlannedRun(spec, grid, run_config, size, facts, config.flop_convention, per_token, budget))
    return runs


def _results(size: str, scratch: str, facts_of: FactsOf, runs: list[PlannedRun], stored: dict[str, RunRecord]) -> SizeResults:
    ended = [stored[run.spec.key] for run in runs if run.spec.key in stored]
    return SizeResults(
        size=size,
        parameters=facts_of(scratch).parameters.non_embedding,
        usable=bool(runs),
        losses=tuple(r.final_val_loss for r in ended if r.completed and r.final_val_loss is not None),
        resolved=bool(runs) and len(ended) == len(runs),
    )


STUDY = StudyKind(
    kind=IsoflopsConfig.kind,
    plan=plan,
    report="isoflop.report.isoflops:build_report",
    data_advice="set --unique-tokens to repeat data, lower --budgets, or use more data",
    models=lambda config: [config.model_options.scratch(size) for size in config.model_sizes],
    grows=lambda config: config.bracket > 0,
)
