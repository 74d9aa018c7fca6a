"""The data-scarcity study: fixed compute, a grid of unique-sample counts D. Pure planning.

Every run trains for the same number of passes C; a run with D unique samples sees each
C/D times (epochs). The report compares final validation losses across D.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..budget import Budget, flops_per_token
from ..config.studies import ScarcityConfig
from ..engines.base import RunSpec
from ..errors import UsageError
from ..keys import stable_key
from ..results.records import RunRecord
from .base import FactsOf, Plan, PlannedRun, StudyKind


def plan(config: ScarcityConfig, vocab_size: int, facts_of: FactsOf, records: Sequence[RunRecord] = ()) -> Plan:
    """One run per (D, seed), smallest D first, whatever the stored ``records`` hold."""
    seq_len = config.data.seq_len
    facts = facts_of(config.model)
    if seq_len > facts.context:
        raise UsageError(f"seq_len {seq_len} exceeds the context of model {config.model!r} ({facts.context} tokens)")
    budget = Budget(passes=config.budget_passes, seq_len=seq_len, batch_size=config.optimizer.batch_size)
    # The full count needs a GPT-2-family shape; other models are counted 6N, and the record says so.
    convention = "full" if facts.architecture is not None else "6N"
    per_token = flops_per_token(facts.parameters.non_embedding, facts.architecture, seq_len, convention)
    identity = config.identity()
    eval_steps = config.evaluation.eval_steps(budget.steps)
    runs = []
    for unique_samples in config.unique_samples:
        for seed in config.seeds:
            grid = {"unique_samples": unique_samples}
            run_config = {**identity, **grid, "seed": seed}
            spec = RunSpec(
                key=stable_key(run_config),
                label=f"D={unique_samples} seed={seed}",
                seed=seed,
                model=config.model,
                dropout=config.model_options.dropout,
                unique_samples=unique_samples,
                steps=budget.steps,
                optimizer=config.optimizer,
                eval_steps=eval_steps,
            )
            runs.append(PlannedRun(spec, grid, run_config, config.model, facts, convention, per_token, per_token * budget.tokens))
    return Plan(runs)


STUDY = StudyKind(
    kind=ScarcityConfig.kind,
    plan=plan,
    report="isoflop.report.scarcity:build_report",
    data_advice="lower --unique-samples or use more training data",
    models=lambda config: [config.model],
)
