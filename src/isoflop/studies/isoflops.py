"""The isoFLOP study: at each compute budget C, train several model sizes N on D = C / FLOPs-per-token.

Pure planning: parameter and FLOP counts come from the architecture's formula. The
minimum of final loss over N at fixed C is the compute-optimal model for C; across
budgets, the minima give N*(C), D*(C) and the loss frontier L*(C) (Hoffmann et al. 2022).
"""

from __future__ import annotations

from ..budget import flops_per_token
from ..config.studies import IsoflopsConfig
from ..engines.base import RunSpec
from ..errors import UsageError
from ..keys import stable_key
from ..models.specs import SCRATCH_PREFIX
from .base import FactsOf, Plan, PlannedRun, StudyKind


def plan(config: IsoflopsConfig, vocab_size: int, facts_of: FactsOf) -> Plan:
    """Every (budget, size, seed) with at least ``min_steps`` steps; the pairs left out as too big are notes."""
    runs, too_big = [], []
    seq_len, batch_size = config.data.seq_len, config.optimizer.batch_size
    identity = config.identity()
    for budget in config.budgets:
        for size in config.model_sizes:
            facts = facts_of(SCRATCH_PREFIX + size)
            per_token = flops_per_token(facts.parameters.non_embedding, facts.architecture, seq_len, config.flop_convention)
            steps = round(budget / per_token / (batch_size * seq_len))
            if steps < config.min_steps:
                too_big.append(f"{size} at C={budget:.3g} ({steps} steps)")
                continue
            passes = steps * batch_size
            unique_samples = passes if config.unique_tokens is None else min(passes, config.unique_tokens // seq_len)
            if unique_samples < 1:
                raise UsageError(f"--unique-tokens {config.unique_tokens} is less than one {seq_len}-token sample")
            optimizer = config.optimizer.model_copy(update={"learning_rate": config.learning_rate_of(size)})
            for seed in config.seeds:
                grid = {"budget": budget, "size": size}
                run_config = {**identity, **grid, "seed": seed}
                spec = RunSpec(
                    key=stable_key(run_config),
                    label=f"{size} at C={budget:.3g} seed={seed}",
                    seed=seed,
                    model=SCRATCH_PREFIX + size,
                    dropout=config.model_options.dropout,
                    unique_samples=unique_samples,
                    steps=steps,
                    optimizer=optimizer,
                    eval_steps=config.evaluation.eval_steps(steps),
                )
                runs.append(PlannedRun(spec, grid, run_config, size, facts, config.flop_convention, per_token, budget))
    if not runs:
        raise UsageError(
            f"every model size is too big for every budget (fewer than {config.min_steps} steps); "
            "raise --budgets or choose smaller --model-sizes"
        )
    return Plan(runs, notes=[f"Skipped as too big for their budget: {'; '.join(too_big)}."] if too_big else [])


STUDY = StudyKind(
    kind=IsoflopsConfig.kind,
    plan=plan,
    report="isoflop.report.isoflops:build_report",
    data_advice="set --unique-tokens to repeat data, lower --budgets, or use more data",
)
