"""``--dry-run``: a study's plan, printed before anything trains: every run with its steps, tokens, FLOPs and
learning rate, and which of them the output folder already holds. It writes nothing and imports no torch
(planning is arithmetic; the folder's database is copied into memory, and migrated there if it is older).

With ``--engine auto`` the engine is chosen when the study runs (by the machine: a GPU or not); run keys
name the engine, so a stored run is matched under any engine ``auto`` could choose.
"""

from __future__ import annotations

import functools
from pathlib import Path

from ..config.engines import AUTO, engine_names
from ..config.studies import StudyConfig
from ..keys import stable_key
from .base import Plan
from .registry import STUDIES


def dry_run(config: StudyConfig, vocab_size: int | None = None, estimate: bool = False) -> list[str]:
    """The plan of ``config`` in plain lines; ``vocab_size``: the tokenizer's size when it does not exist yet;
    ``estimate``: add the wall time the runs to train will take here, from a short calibration (imports torch)."""
    lines, todo = planned(config, vocab_size)
    if estimate and todo:
        from .estimate import estimate as estimated

        lines.append(estimated(config, todo, vocab_size).line())
    return lines


def planned(config: StudyConfig, vocab_size: int | None = None) -> tuple[list[str], list]:
    """The plan of ``config`` in plain lines, and the runs it would train (those the folder does not hold)."""
    from ..models.build import model_facts
    from ..results.store import check_existing, read_records

    study = STUDIES[config.kind]
    folder = Path(config.output)
    check_existing(folder, config.kind)
    if vocab_size is None:
        from ..tokenization.resolve import load_tokenizer

        vocab_size = len(load_tokenizer(config.tokenizer.tokenizer))
    facts_of = functools.cache(lambda spec: model_facts(spec, vocab_size, config.model_options.dropout))
    records = read_records(folder)
    if config.engine.engine != AUTO:  # an engine named that cannot train these models is refused as the study would
        from ..engines.registry import select_engine

        select_engine(config.engine, study.models(config), vocab_size)
    candidates = [config.engine.engine] if config.engine.engine != AUTO else list(engine_names())
    plans, stored = {}, set()
    for name in candidates:
        engine_config = config.model_copy(update={"engine": config.engine.model_copy(update={"engine": name})})
        study_key = stable_key(engine_config.identity())
        mine = [r for r in records if r.study_key == study_key]
        plans[name] = study.plan(engine_config, vocab_size, facts_of, mine)
        stored |= {r.key for r in mine if r.completed}
    # The plan of the engine whose runs the folder holds (any, when it holds none): all differ in keys only.
    shown = max(candidates, key=lambda name: sum(run.spec.key in stored for run in plans[name].runs))
    lines = _lines(config, plans[shown], stored, shown, vocab_size)
    return lines, [run for run in plans[shown].runs if run.spec.key not in stored]


def _lines(config: StudyConfig, plan: Plan, stored: set[str], engine: str, vocab_size: int) -> list[str]:
    todo = [run for run in plan.runs if run.spec.key not in stored]
    if config.engine.engine != AUTO:
        engine_text = engine
    elif stored & {run.spec.key for run in plan.runs}:
        engine_text = f"auto (chosen when the study runs; the runs this folder holds were trained by {engine})"
    else:
        engine_text = "auto (chosen when the study runs, by the machine: fast on a CPU, batched on a GPU)"
    lines = [f"dry run of the {config.kind} study in {config.output}: nothing is trained or written",
             f"engine {engine_text}, tokenizer {config.tokenizer.tokenizer} ({vocab_size:,} tokens), "
             f"{config.data.seq_len} tokens per sample, batch {config.optimizer.batch_size}, seeds {list(config.seeds)}"]
    header = f"{'run':<34} {'parameters':>12} {'steps':>7} {'tokens':>11} {'FLOPs':>9} {'lr':>8}  status"
    lines += [header, "-" * len(header)]
    for run in plan.runs:
        status = "stored" if run.spec.key in stored else "to train"
        tokens = run.spec.steps * run.spec.optimizer.batch_size * config.data.seq_len
        lines.append(f"{run.spec.label:<34} {run.facts.parameters.total:>12,} {run.spec.steps:>7,} {tokens:>11,} "
                     f"{run.flops_per_token * tokens:>9.3g} {run.spec.optimizer.learning_rate:>8.2g}  {status}")
    lines += models_table(plan, config.data.seq_len) + _optimizer_lines(config, plan)
    if plan.runs:
        lines.append(plan.data_line(config.data.seq_len))
    steps = sum(run.spec.steps for run in todo)
    flops = sum(run.flops_per_token * run.spec.steps * run.spec.optimizer.batch_size * config.data.seq_len for run in todo)
    lines.append(f"{len(plan.runs)} run(s) planned, {len(plan.runs) - len(todo)} stored, {len(todo)} to train: "
                 f"{steps:,} optimizer steps, {flops:.3g} training FLOPs ({_convention(plan)} count)")
    shared = _computed(todo, config.data.seq_len)
    if shared < flops * (1 - 1e-9):
        lines.append(f"wsd: each size's budgets branch from one trunk, so an engine that branches (fast) computes "
                     f"{shared:.3g} of those FLOPs ({shared / flops:.2f}x); every run still counts as a training of its budget")
    lines += [f"note: {note}" for note in plan.notes]
    if config.execution.executor == "slurm" and todo:
        from ..execution.slurm import sbatch_lines

        lines.append(f"slurm: one job array per round, one task per pack (at most {len(todo)} tasks: runs that differ only "
                     "in seed and D may share one), each asking with:")
        lines += [f"  {line}" for line in sbatch_lines(config.slurm, f"isoflop-{config.kind}", len(todo))]
    if getattr(config, "bracket", 0):
        lines.append(f"later rounds may add runs: --bracket {config.bracket} trains more sizes at a budget until its "
                     "loss minimum is bracketed (planned from the first round's results)")
    return lines


def _optimizer_lines(config: StudyConfig, plan: Plan) -> list[str]:
    """The rules that set each run's rate, batch and beta2 (and what they resolved to), and beta2's memory in tokens."""
    from ..training.rules import half_life

    asked, seq_len = config.optimizer, config.data.seq_len
    lines = []
    for name, rule in (("learning rate", asked.lr_rule), ("batch", asked.batch_rule), ("AdamW beta2", asked.beta2_rule)):
        if rule is not None:
            lines.append(f"{name}: the {rule} rule (training.rules); each run's value is in its key ('resolved')"
                         + (" and in the lr column above" if name == "learning rate" else ""))
    betas = sorted({(run.spec.optimizer.adam_beta2, run.spec.optimizer.batch_size * seq_len) for run in plan.runs})
    for beta, tokens in betas[:3]:
        lines.append(f"AdamW beta2 {beta:.6g} at {tokens:,} tokens per step: a half-life of {half_life(beta, tokens):,.0f} "
                     "tokens (large-batch training's 0.95 at 524,288 tokens per step: ~7.1M; --beta2-rule half-life "
                     "keeps it the same at every batch)")
    return lines


def models_table(plan: Plan, seq_len: int) -> list[str]:
    """Every model of the plan once: its shape and its counts (``models.counts``), FLOPs per token at ``seq_len``."""
    from ..models.counts import every_convention

    header = (f"{'model':<22} {'layers':>6} {'width':>6} {'heads':>6} {'head':>5} {'MLP':>6} {'tied':>5} {'N total':>12} "
              f"{'N non-emb.':>12} {'N matmul':>12} {'6N':>9} {'full':>9} {'matmul':>9}")
    lines = ["models (parameters; training FLOPs per token, each convention, at this sequence length):", header,
             "-" * len(header)]
    for name, facts in {run.spec.model: run.facts for run in plan.runs}.items():
        arch, counts = facts.architecture, every_convention(facts, seq_len)
        shape = (f"{arch.n_layer:>6} {arch.n_embd:>6} {f'{arch.n_head}/{arch.kv_heads}':>6} {arch.head_width:>5} "
                 f"{arch.mlp_width:>6} {'yes' if arch.tied_head else 'no':>5}") if arch is not None else f"{'':>39}"
        matmul = f"{facts.matmul:>12,}" if facts.matmul is not None else f"{'-':>12}"
        lines.append(f"{name.removeprefix('scratch:'):<22} {shape} {facts.parameters.total:>12,} "
                     f"{facts.parameters.non_embedding:>12,} {matmul} " + " ".join(
                         f"{counts[c]:>9.3g}" if c in counts else f"{'-':>9}" for c in ("6N", "full", "matmul")))
    return lines


def _computed(runs: list, seq_len: int) -> float:
    """The training FLOPs of ``runs`` when each trunk is trained once, to its last branch step."""
    total, trunks = 0.0, {}
    for run in runs:
        spec = run.spec
        per_step = run.flops_per_token * spec.optimizer.batch_size * seq_len
        if spec.trunk is None:
            total += per_step * spec.steps
        else:
            total += per_step * (spec.steps - spec.branch_step)
            trunks[spec.trunk] = max(trunks.get(spec.trunk, (0, 0.0)), (spec.branch_step, per_step))
    return total + sum(steps * cost for steps, cost in trunks.values())


def _convention(plan: Plan) -> str:
    conventions = sorted({run.flop_convention for run in plan.runs})
    return ", ".join(conventions) or "no"
