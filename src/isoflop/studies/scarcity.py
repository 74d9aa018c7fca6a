"""The data-scarcity study: fixed compute, a grid of unique-sample counts D. Pure planning.

Every run trains for the same number of passes C; a run with D unique samples sees each
C/D times (epochs). The report compares final validation losses across D.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..budget import Budget
from ..models.counts import flops_per_token
from ..training.rules import resolved, rule_values
from ..config.studies import ScarcityConfig
from ..engines.base import RunSpec
from ..errors import UsageError
from ..keys import stable_key
from ..results.records import RunRecord
from .base import FactsOf, Plan, PlannedRun, StudyKind


def plan(config: ScarcityConfig, vocab_size: int, facts_of: FactsOf, records: Sequence[RunRecord] = ()) -> Plan:
    """One run per (point of the axes, D, seed), smallest D first, whatever the stored ``records`` hold."""
    seq_len = config.data.seq_len
    model = config.model_options.spec(config.model)
    facts = facts_of(model)
    if seq_len > facts.context:
        raise UsageError(f"seq_len {seq_len} exceeds the context of model {model!r} ({facts.context} tokens)")
    # The full count needs the model's shape; a model whose config does not give one is counted 6N, and the record says so.
    convention = "full" if facts.architecture is not None and facts.matmul is not None else "6N"
    per_token = flops_per_token(facts, seq_len, convention)
    runs = []
    for axis_point in config.settings():
        setting, point = axis_point.setting, axis_point.config
        # A run's key is its own config's: at the study's own values of its axes it is the run a study without axes
        # trains, so adding an axis reuses the runs already stored.
        identity = point.identity()
        if point.optimizer.batch_rule == "step-law":
            raise UsageError("--batch-rule step-law: a scarcity study's budget is a number of passes; set --batch-size")
        optimizer = resolved(point.optimizer, facts.parameters.non_embedding, config.budget_passes * seq_len, seq_len)
        budget = Budget(passes=config.budget_passes, seq_len=seq_len, batch_size=optimizer.batch_size)
        eval_steps = point.evaluation.eval_steps(budget.steps)
        shown = "".join(f" {name}={value:g}" for name, value in setting.items())
        for unique_samples in config.unique_samples:
            for seed in config.seeds:
                grid = {"unique_samples": unique_samples, **setting}
                run_config = {**identity, **grid, "seed": seed} | rule_values(point.optimizer, optimizer)
                spec = RunSpec(
                    key=stable_key(run_config),
                    label=f"D={unique_samples} seed={seed}{shown}",
                    seed=seed,
                    model=model,
                    dropout=point.model_options.dropout,
                    unique_samples=unique_samples,
                    steps=budget.steps,
                    optimizer=optimizer,
                    eval_steps=eval_steps,
                )
                runs.append(PlannedRun(spec, grid, run_config, model, facts, convention, per_token,
                                       per_token * budget.tokens))
    return Plan(runs)


STUDY = StudyKind(
    kind=ScarcityConfig.kind,
    plan=plan,
    report="isoflop.report.scarcity:build_report",
    data_advice="lower --unique-samples or use more training data",
    models=lambda config: [config.model_options.spec(config.model)],
)
