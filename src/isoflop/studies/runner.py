"""The one study runner: any study kind, any engine, any executor.

Everything a study can get wrong is checked before the output folder is touched (the
plan, the data, the engine's ``supports``); then completed runs are skipped, the rest are
grouped into packs and handed to the executor, and each result is written to the store
in one transaction as soon as it arrives. The report is built from the stored records.
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


from ..config.studies import StudyConfig
from ..data.prepare import PreparedData, prepare_data
from ..engines.base import Pack
from ..engines.registry import select_engine
from ..errors import UsageError, WriteError, write_failure
from ..execution.base import load_executor, records, resolve
from ..execution.inbox import Inbox
from ..execution.slurm_files import remove_task_inputs
from ..keys import stable_key
from ..lock import FolderLock
from ..progress import event
from ..progress import progress as progress_bar
from ..provenance import library_versions
from ..quiet import silence_libraries
from ..results.store import Store, check_existing
from ..trackers import LIVE_FOLDER, Trackers, check_trackers
from ..training.trunks import TRUNKS_FOLDER, keep_furthest_states
from .base import Plan, PlannedRun
from .recording import Recorder
from .registry import STUDIES

MODELS_FOLDER = "models"
CHECKPOINTS_FOLDER = "checkpoints"


@dataclass(frozen=True)
class StudyOutcome:
    """What a study did: runs trained, skipped, failed, the engine, the answer and the files written."""

    folder: Path
    kind: str
    trained: int
    skipped: int
    failed: list[str]
    engine: str
    answer: list[str]  # the report's answer, in plain lines
    files: list[Path]  # every file the report wrote
    submitted: list[str] = field(default_factory=list)  # with --detach: the SLURM job arrays submitted
    queued: int = 0  # with --detach: runs found queued already, not submitted again

    @property
    def completed(self) -> int:
        return self.trained - len(self.failed)


def run_study(
    config: StudyConfig,
    echo: Callable[[str], None] = print,
    progress: bool = True,
    wait: bool = False,
    force_new_data: bool = False,
    engine=None,
) -> StudyOutcome:
    """Plan, prepare, skip what the folder already holds, train the rest, write the report.

    The output folder is locked for the whole study, its report included (``wait``: queue
    behind another writer instead of refusing). Stored runs must have seen the same data as this run would give
    them; ``force_new_data`` moves a study on other data aside instead of refusing. ``engine``: an engine object
    to train with instead of the one ``config`` names (a seam for tests and embedding programs).
    """
    silence_libraries()
    study = STUDIES[config.kind]
    setup = _set_up(config, engine)
    folder = Path(setup.config.output)
    save_to = folder / MODELS_FOLDER if setup.config.save_models else None
    try:
        return _run(setup, study, folder, save_to, progress, wait, force_new_data, echo)
    except (OSError, sqlite3.OperationalError) as error:
        reason = write_failure(error)
        if reason is None:
            raise
        raise WriteError(f"cannot write to {str(folder)!r} ({reason}): the runs stored there so far are kept; free "
                         "space or make it writable, then run the same command again (it trains only what is not "
                         "stored and writes the report)") from None


def _run(setup: _Setup, study, folder: Path, save_to: Path | None, progress: bool, wait: bool, force_new_data: bool,
         echo: Callable[[str], None]) -> StudyOutcome:
    """The study in its locked folder: the stored runs checked and merged, the rest trained, the report written."""
    from ..report.write import write_report

    config, engine, data = setup.config, setup.engine, setup.data
    with FolderLock(folder, wait=wait, echo=echo), Store(folder) as store:
        data = _check_data_identity(store, setup.study_key, data, config, study, force_new_data, echo)
        for note in store.notes:
            echo(note)
        store.ensure_study(setup.study_key, config.kind, config.identity())
        merged = Inbox(folder).merge_into(store)
        if merged:
            echo(f"stored {len(merged)} run(s) that finished while no isoflop command was watching")
        trackers = Trackers(config.report_to, folder, config.kind, config.flat(), setup.study_key)
        for line in trackers.where():
            echo(line)
        for record in store.records() if config.report_to else ():  # stored before: logged once, if never before
            if record.study_key == setup.study_key:
                trackers.log(record)
        trained, skipped, failed, plan, executor = _rounds(setup, data, store, trackers, save_to, progress, echo)
        if config.slurm.detach and (executor is not None and (executor.submitted or executor.queued_before)):
            # The tasks go on without this process: their checkpoints stay, and the report waits for their runs.
            return StudyOutcome(folder, config.kind, trained, skipped, failed, engine.name, [], [],
                                executor.submitted, executor.queued_before)
        store.check_in_place()
        records = store.records()
        # Every pack has ended and its results are stored: no checkpoint can be resumed any more.
        shutil.rmtree(folder / CHECKPOINTS_FOLDER, ignore_errors=True)
        shutil.rmtree(folder / LIVE_FOLDER, ignore_errors=True)  # every run in it is stored (and logged) by now
        remove_task_inputs(folder)
        keep_furthest_states(folder / TRUNKS_FOLDER)  # what a budget added by a later study can still branch from
        # Still under the lock: a process queued with --wait must not rewrite the report while it is written.
        try:
            document = study.build_report(records, config, plan.notes, setup.vocab_size)
            files = write_report(document, folder)
        except (OSError, WriteError) as error:
            if isinstance(error, OSError):
                reason = error.strerror
            else:
                reason = f"{Path(error.path).name}: {error.reason}" if error.reason else str(error)
            raise UsageError(f"the runs are stored in {str(folder)!r}, but its report could not be written ({reason}): free "
                             "space or make the folder writable, then run the same command again (it trains nothing "
                             "more and writes the report)") from None
    return StudyOutcome(folder, config.kind, trained, skipped, failed, engine.name, document.answer, files)


@dataclass
class _Setup:
    """A study ready to train: its engine chosen (``auto`` resolved once, before planning), its first plan made
    from what the folder holds (read without writing), its data prepared once for that plan and the stored runs."""

    config: StudyConfig
    engine: object
    study_key: str
    vocab_size: int
    facts_of: Callable
    plan: Plan
    data: PreparedData


def _set_up(config: StudyConfig, engine=None) -> _Setup:
    """Everything a study can get wrong, checked before the output folder is touched."""
    from ..models.build import model_facts
    from ..results.store import read_records
    from ..tokenization.resolve import load_tokenizer

    study = STUDIES[config.kind]
    folder = Path(config.output)
    check_output_folder(folder)
    check_existing(folder, config.kind)
    check_trackers(config.report_to)
    if config.execution.executor == "slurm":
        from ..execution.slurm_queue import check_cluster

        check_cluster(config.slurm.slurm_partition)
    tokenizer = load_tokenizer(config.tokenizer.tokenizer)
    vocab_size = len(tokenizer)
    if engine is None:
        engine = select_engine(config.engine, study.models(config), vocab_size)
    # The study is the engine that trains it ('auto' picks by machine): keys name that engine.
    config = config.model_copy(update={"engine": config.engine.model_copy(update={"engine": engine.name})})
    study_key = stable_key(config.identity())
    facts_of = functools.cache(lambda spec: model_facts(spec, vocab_size, config.model_options.dropout))
    stored = [r for r in read_records(folder) if r.study_key == study_key]
    plan = study.plan(config, vocab_size, facts_of, stored)
    needed = max([plan.train_samples()] + [r.data_span for r in stored if r.completed])
    try:
        data = prepare_data(config.data, tokenizer, needed, config.evaluation.eval_samples, study.data_advice)
    except UsageError:
        if needed == plan.train_samples():
            raise
        # Too short for the stored runs: _check_data_identity says so, with what to do.
        data = prepare_data(config.data, tokenizer, plan.train_samples(), config.evaluation.eval_samples, study.data_advice)
    return _Setup(config, engine, study_key, vocab_size, facts_of, plan, data)


def _rounds(setup: _Setup, data: PreparedData, store: Store, trackers: Trackers, save_to: Path | None, progress: bool,
            echo: Callable[[str], None]) -> tuple[int, int, list[str], Plan]:
    """Train what is new, plan again with the results: a plan that grows with its results (bracketing) takes
    several rounds, a fixed grid one (and a detached study the first: later ones are planned by the same command
    run again). A run that fails is not retried within the study. Returns the runs trained, those skipped as
    already stored, the failures, the last plan and the last round's executor."""
    config, study = setup.config, STUDIES[setup.config.kind]
    trained, skipped, failed, attempted, plan, executor = 0, 0, [], set(), setup.plan, None
    for rounds in itertools.count(1):
        if rounds > 1:
            plan = study.plan(config, setup.vocab_size, setup.facts_of,
                              [r for r in store.records() if r.study_key == setup.study_key])
        done = store.completed_keys() | attempted
        todo = [run for run in plan.runs if run.spec.key not in done]
        if rounds == 1:
            skipped = len(plan.runs) - len(todo)
            if skipped:
                echo(f"skipping {skipped} completed run(s) already in {config.output}")
        if not todo:
            return trained, skipped, failed, plan, executor
        if rounds > 1:
            echo(f"round {rounds}: {len(todo)} more run(s), planned from the results so far")
        elif getattr(config, "unique_tokens", None):  # an isoFLOP study that repeats data says so before it trains
            echo(plan.data_line(config.data.seq_len))
        if plan.train_samples() > len(data.train_chunks):
            data = prepare_data(config.data, data.tokenizer, plan.train_samples(), config.evaluation.eval_samples,
                                study.data_advice)
        failures, executor = _train(todo, setup.engine, data, config, store, trackers, setup.study_key, save_to,
                                    progress, echo)
        failed += failures
        attempted |= {run.spec.key for run in todo}
        trained += len(todo)
        if not study.grows(config) or config.slurm.detach:
            return trained, skipped, failed, plan, executor


def _train(todo: list[PlannedRun], engine, data: PreparedData, config: StudyConfig, store: Store, trackers: Trackers,
           study_key: str, save_to: Path | None, progress: bool, echo: Callable[[str], None]) -> tuple[list[str], object]:
    """Train one round's runs on the configured executor, storing each result as it arrives (then logging it to
    the trackers); the failures and the executor."""
    folder = Path(config.output)
    # Longest first, so that the round does not end on one long run while the other workers idle: the largest
    # budgets, and within one the most steps (a small model's steps cost mostly their fixed overhead).
    todo = sorted(todo, key=lambda run: (-run.budget_flops, -run.spec.steps))
    packs = make_packs(todo, engine, data, save_to, folder / CHECKPOINTS_FOLDER, folder / TRUNKS_FOLDER,
                       trackers.live_folder)
    trackers.expect({run.spec.key: (run.spec.label, run.config) for run in todo})
    executor = load_executor(resolve(config.execution, engine, len(packs)), config)
    failed: list[str] = []
    versions = library_versions() | getattr(engine, "provenance", dict)()  # e.g. which kernel the fast engine uses
    recorder = Recorder({run.spec.key: run for run in todo}, study_key, config.kind, config.engine.precision, versions,
                        save_to)
    with progress_bar(total=sum(run.spec.steps for run in todo), unit="steps", enabled=progress,
                      desc=f"{len(todo)} runs ({engine.name}, {executor.name})", heartbeat=config.heartbeat_seconds) as bar:
        def on_step(steps: int) -> None:
            bar.update(steps)
            trackers.follow()

        for record in records(executor, engine, packs, data, on_step, recorder):
            store.save(record)
            trackers.log(record)
            shown = f"{record.final_val_loss:.3f}" if record.final_val_loss is not None else "-"
            event(bar, f"{record.label} val={shown}")
            if not record.completed:
                failed.append(f"{record.label}: {record.error}")
                echo(f"run {record.label} failed: {record.error}")
    return failed, executor


def make_packs(runs: list[PlannedRun], engine, data: PreparedData, save_to: Path | None, checkpoints: Path,
               trunks: Path | None = None, live: Path | None = None) -> list[Pack]:
    """Runs that differ only in seed and data (or, for an engine that branches, that share a trunk), in plan order,
    cut to the engine's pack limit."""
    branches = getattr(engine, "branches", False)
    groups: dict[tuple, list[PlannedRun]] = {}
    for run in runs:
        # An engine that branches trains a trunk's runs together (one unit of work); others train them one by one.
        signature = ("trunk", run.spec.trunk) if branches and run.spec.trunk else run.spec.pack_signature()
        groups.setdefault(signature, []).append(run)
    packs = []
    for group in groups.values():
        limit = engine.pack_limit(group[0].spec, data, len(group))
        for start in range(0, len(group), limit):
            specs = tuple(run.spec for run in group[start : start + limit])
            packs.append(Pack(specs, save_to, checkpoints, trunks, live))
    return packs


def check_output_folder(folder: Path) -> None:
    """Refuse an output path that is a file, or whose nearest existing parent is not a writable folder."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--output {str(folder)!r} is a file, not a folder; choose a folder")
    parent = folder
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"--output {str(folder)!r} cannot be created: {str(parent)!r} is a file")
    if not os.access(parent, os.W_OK):
        if parent == folder:
            raise UsageError(f"--output {str(folder)!r} is not writable (a read-only file system, or another user's "
                             "folder): make it writable, or choose another --output")
        raise UsageError(f"--output {str(folder)!r} cannot be created: {str(parent)!r} is not writable")


def _check_data_identity(store: Store, study_key: str, data: PreparedData, config: StudyConfig, study, force: bool,
                         echo: Callable[[str], None]) -> PreparedData:
    """Refuse (or with ``force``, move aside) a folder whose runs saw other data than this run would give them.

    Each stored run's fingerprint covers exactly its D training samples and the validation
    samples, so a grid that grows is not a change, and a changed file is caught by every
    run that read the changed part. Returns the data, extended to cover the stored runs.
    """
    runs = [r for r in store.records() if r.completed and r.study_key == study_key]
    if not runs:
        return data
    needed = max(r.data_span for r in runs)
    if needed > len(data.train_chunks):
        try:
            data = prepare_data(config.data, data.tokenizer, needed, config.evaluation.eval_samples, study.data_advice)
        except UsageError:
            data = None
    changed = [r for r in runs if data is None or r.data_fingerprint != data.run_fingerprint(r.data_span)]
    if not changed:
        return data
    first = changed[0]
    now = data.run_fingerprint(first.data_span) if data is not None else "too short for it"
    if not force:
        raise UsageError(
            f"the data differ from what {len(changed)} stored run(s) of this study were trained on ({first.label}: "
            f"fingerprint {first.data_fingerprint}, now {now}); use a new --output, or pass --force-new-data to start "
            "this folder over on the new data (the old results are kept under superseded/)"
        )
    if data is None:
        # Refuse before anything moves: a study that cannot even prepare its data must leave the folder as it was.
        raise UsageError(
            f"the training data no longer hold the {needed} samples the stored runs used; use a new --output for the "
            "new data, or restore the old data"
        )
    moved = store.supersede()
    echo(f"the data changed under {len(changed)} stored run(s): the old results were moved to {moved}")
    return data
