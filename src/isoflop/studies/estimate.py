"""``--dry-run --estimate``: the wall time a study's runs will take on this machine, from a short calibration.

The method, stated wherever the number is shown: for each distinct (model, dropout, batch) of the runs to train,
the study's own engine trains short copies of one run in this process, after one untimed warm-up: ``SHORT`` and
``LONG`` steps without evaluation (their difference gives a training step's time, the rest of the short one the
run's fixed cost: building the model and the loss before training), and ``SHORT`` steps evaluating after every
step (the extra time per step is one evaluation's). Each run is then ``fixed + steps × step + evaluations ×
evaluation``, and the study's wall time their sum divided by the workers that train packs side by side. It is an
estimate: data preparation, the report and uneven packing (the last run may train alone) are not counted. A
tokenizer that does not exist yet (a vocabulary study's BPE before it is trained) is stood in for by the byte
tokenizer reporting the planned vocabulary size: the time depends on the size (embedding, head), not on the ids.
"""

from __future__ import annotations

import dataclasses
import os
import time

from ..config.studies import StudyConfig
from ..engines.base import Pack, RunSpec
from .base import PlannedRun

SHORT, LONG = 3, 9


@dataclasses.dataclass(frozen=True)
class Estimate:
    seconds: float
    workers: int
    calibrated: int  # distinct model shapes timed
    calibration_seconds: float
    stand_in: int | None = None  # the planned vocabulary size a missing tokenizer was stood in for at

    def line(self) -> str:
        stand_in = (f"; the tokenizer is not trained yet: timed with {self.stand_in:,} byte-tokenizer ids, its "
                    "training not counted") if self.stand_in else ""
        return (f"estimate: about {duration(self.seconds)} of wall time on this machine with {self.workers} worker(s) "
                f"(calibrated by training {self.calibrated} model shape(s) for {SHORT} and {LONG} steps, "
                f"{self.calibration_seconds:.1f} s; an estimate: data preparation, the report and uneven packing are "
                f"not counted{stand_in})")


def estimate(config: StudyConfig, runs: list[PlannedRun], planned_vocab_size: int | None = None) -> Estimate:
    """The estimated wall time of training ``runs`` as ``config`` would, calibrated here and now;
    ``planned_vocab_size``: the size of a tokenizer that does not exist yet (timed with a stand-in)."""
    from ..data.prepare import prepare_data
    from ..engines.registry import select_engine
    from ..execution.base import resolve
    from ..tokenization.resolve import load_tokenizer
    from .registry import STUDIES

    started = time.perf_counter()
    study = STUDIES[config.kind]
    tokenizer = load_tokenizer("bytes" if planned_vocab_size else config.tokenizer.tokenizer)
    vocab_size = planned_vocab_size or len(tokenizer)
    engine = select_engine(config.engine, study.models(config), vocab_size)
    samples = min(max(run.spec.data_span for run in runs), LONG * config.optimizer.batch_size)
    data = prepare_data(config.data, tokenizer, samples, config.evaluation.eval_samples, study.data_advice)
    if planned_vocab_size:
        data = dataclasses.replace(data, tokenizer=_StandIn(tokenizer, planned_vocab_size))
    costs: dict[tuple, tuple[float, float, float]] = {}
    for run in runs:
        shape = _shape(run.spec)
        if shape not in costs:
            costs[shape] = _calibrate(engine, run.spec, data)
    total = sum(_seconds(run.spec, *costs[_shape(run.spec)]) for run in runs)
    execution = resolve(config.execution, engine, len(runs))
    workers = (execution.workers or os.cpu_count() or 1) if execution.executor == "processes" else 1
    workers = max(1, min(workers, len(runs)))
    return Estimate(total / workers, workers, len(costs), time.perf_counter() - started, planned_vocab_size)


class _StandIn:
    """A tokenizer that reports another vocabulary size: the models built for it get that embedding and head."""

    def __init__(self, tokenizer, size: int):
        self._tokenizer, self._size = tokenizer, size

    def __len__(self) -> int:
        return self._size

    def __getattr__(self, name: str):
        return getattr(self._tokenizer, name)


def _shape(spec: RunSpec) -> tuple:
    return (spec.model, spec.dropout, spec.optimizer.batch_size)


def _seconds(spec: RunSpec, fixed: float, step: float, evaluation: float) -> float:
    return fixed + spec.steps * step + len(spec.eval_steps) * evaluation


def _calibrate(engine, spec: RunSpec, data) -> tuple[float, float, float]:
    """(fixed seconds, seconds per training step, seconds per evaluation) of ``spec``'s model with ``engine``."""
    base = dataclasses.replace(spec, unique_samples=min(spec.unique_samples, len(data.train_chunks)), trunk=None,
                               order="epochs", pool=None, eval_steps=())

    def timed(steps: int, evaluate: bool) -> float:
        run = dataclasses.replace(base, steps=steps, eval_steps=tuple(range(1, steps + 1)) if evaluate else ())
        started = time.perf_counter()
        for _ in engine.train(Pack((run,)), data, lambda done: None):
            pass
        return time.perf_counter() - started

    timed(SHORT, True)  # warm-up: first-call costs that a study pays once, not per run
    short, long, evaluated = timed(SHORT, False), timed(LONG, False), timed(SHORT, True)
    step = max(0.0, long - short) / (LONG - SHORT)
    return max(0.0, short - SHORT * step), step, max(0.0, evaluated - short) / SHORT


def duration(seconds: float) -> str:
    """``seconds`` as people say it: 45 s, 3 min 05 s, 1 h 02 min."""
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"
