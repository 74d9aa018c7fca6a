"""Helpers shared by several test modules (fixtures live in conftest.py)."""

import sqlite3
import sys
import time
from pathlib import Path

import pytest

from conftest import engine, make_data, make_run, train, write_corpus
from isoflop import build_config, run_study
from isoflop.engines.base import RunResult
from isoflop.models.specs import LADDER
from isoflop.results.records import RunRecord, StepMetric
from isoflop.results.store import Store

# The isoFLOP ladder rungs the bracketing tests use.
SIZES = ("0.8k", "2k", "3k", "6k", "12k", "25k", "50k", "100k")


def record(key="k1", status="completed", **changes) -> RunRecord:
    values = dict(
        key=key, study_key="s", kind="scarcity", label="D=1 seed=1", grid={"unique_samples": 1}, seed=1, status=status,
        error=None, engine="reference", precision="fp32", flop_convention="full", wall_seconds=1.5, pack_runs=1,
        model="scratch:tiny", parameters=100, non_embedding_parameters=40, flops_per_token=300.0, train_flops=3000.0,
        eval_flops=50.0, tokens=10, unique_samples=1, unique_tokens=10, epochs=1.0, budget_flops=3000.0,
        final_val_loss=2.5, best_val_loss=2.4, best_step=1, bits_per_byte=1.2, data_fingerprint="abc",
        config={"study": "scarcity", "seed": 1}, versions={"torch": "x"},
        metrics=(StepMetric(1, 3.0, 2.4, 1e-3), StepMetric(2, 2.8, None, 5e-4)),
    )
    return RunRecord(**(values | changes))


LOSS_TOLERANCE = 1e-4


def runs(steps, **settings):
    return [make_run(f"d{d}", d, seed, steps, dropout=0.0, **settings) for d, seed in ((1, 1), (3, 2), (8, 3))]


def assert_equivalent(reference, batched, saved=None):
    """Two engines' results agree run by run within ``LOSS_TOLERANCE`` (and, given the folders both saved their
    models to, their final weights within 1e-3)."""
    import torch
    from transformers import GPT2LMHeadModel

    for key, expected in reference.items():
        got = batched[key]
        assert got.status == expected.status == "completed"
        assert got.eval_steps == expected.eval_steps
        # The loss before the first step: the same initial model, measured by both.
        assert abs(got.initial_val_loss - expected.initial_val_loss) < LOSS_TOLERANCE
        assert max(abs(a - b) for a, b in zip(got.train_loss, expected.train_loss)) < LOSS_TOLERANCE
        assert max(abs(a - b) for a, b in zip(got.val_loss, expected.val_loss)) < LOSS_TOLERANCE
        assert got.learning_rate == pytest.approx(expected.learning_rate, abs=1e-12)
        if saved is not None:
            # Final weights: both saved as ordinary HF checkpoints; they agree to 1e-3 absolute.
            theirs_folder, ours_folder = saved
            ours = GPT2LMHeadModel.from_pretrained(ours_folder / key).state_dict()
            theirs = GPT2LMHeadModel.from_pretrained(theirs_folder / key).state_dict()
            for name, tensor in theirs.items():
                torch.testing.assert_close(ours[name], tensor, atol=1e-3, rtol=0)


def saved_runs(model, steps):
    """The engine tests' three runs of ``model`` for ``steps`` steps, dropout 0."""
    return [make_run(r.key, r.unique_samples, r.seed, steps, model=model, dropout=0.0) for r in runs(steps)]


def compare_saved(reference_of, tokenizer, model, steps, tmp_path, name="batched") -> int:
    """Engine ``name`` and the reference (``reference_of``: trained once per session) on three runs of ``model``,
    models saved; returns the steps ``name`` reported."""
    reference, reference_folder = reference_of(model, steps)
    other, reported = train(engine(name), saved_runs(model, steps), make_data(tokenizer), tmp_path / name)
    assert_equivalent(reference, other, (reference_folder, tmp_path / name))
    return reported


class InterruptedEngine:
    """The reference engine, dying (like Ctrl-C or a kill) right after its first run has been handed over."""

    name = "reference"

    def __init__(self, config):
        from isoflop.engines.reference import ReferenceEngine

        self.engine = ReferenceEngine(config)

    def supports(self, models, vocab_size):
        return self.engine.supports(models, vocab_size)

    def pack_limit(self, pack_run, data, runs):
        return self.engine.pack_limit(pack_run, data, runs)

    def train(self, pack, data, on_step):
        results = self.engine.train(pack, data, on_step)
        yield next(results)
        raise KeyboardInterrupt


class SyntheticEngine:
    """Final loss from a Chinchilla-shaped law of the run's N and D: an isoFLOP study without training."""

    name = "fast"

    def __init__(self, config):
        self.trained: list[str] = []

    def supports(self, models, vocab_size):
        return None

    def pack_limit(self, pack_run, data, runs):
        return 1

    def train(self, pack, data, on_step):
        for run in pack.runs:
            shape = LADDER[run.model.split(":")[1]]
            n, d = 12 * shape.n_layer * shape.n_embd**2, run.passes * data.seq_len
            loss = 1.0 + 30.0 / n**0.4 + 60.0 / d**0.4
            self.trained.append(run.label)
            yield RunResult(key=run.key, engine=self.name, status="completed", error=None, wall_seconds=0.0,
                            train_loss=[loss] * run.steps, val_loss=[loss], learning_rate=[0.0] * run.steps,
                            eval_steps=[run.steps])


def synthetic_study(tmp_path, engine_class=None, **changes):
    train, valid = write_corpus(tmp_path / "train.txt", 4000), write_corpus(tmp_path / "valid.txt", 8)
    settings = dict(budgets=(3e8, 3e9, 3e10), model_sizes=SIZES, train_data=str(train), validation_data=str(valid),
                    seq_len=16, batch_size=2, eval_samples=2, min_steps=5, fit_bootstrap=0, executor="inprocess",
                    leave_one_out=False, robustness=False, fit_starts="coarse",
                    output=str(tmp_path / "out")) | changes
    lines = []
    config = build_config(overrides=settings, kind="isoflops")
    outcome = run_study(config, echo=lines.append, progress=False, engine=(engine_class or SyntheticEngine)(config.engine))
    with Store(tmp_path / "out", create=False) as store:
        records = store.records()
    return settings, outcome, lines, records


def children(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if int(fields.get("PPid", "0").strip()) == pid:
            found.append(int(status.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:\t")[1][0] not in "ZX"
    except (OSError, IndexError):
        return False


def until(condition, seconds: float = 60.0):
    """Poll ``condition`` until it holds (a condition, not a fixed wait)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


def command(values: dict, study: str = "scarcity") -> list[str]:
    args = [sys.executable, "-m", "isoflop", study, "--quiet"]
    for name, value in values.items():
        args += [f"--{name.replace('_', '-')}", ",".join(map(str, value)) if isinstance(value, tuple) else str(value)]
    return args


def completed_runs(folder) -> int:
    try:
        with sqlite3.connect(f"file:{folder / 'results.sqlite'}?mode=ro", uri=True) as connection:
            return connection.execute("SELECT count(*) FROM runs WHERE status = 'completed'").fetchone()[0]
    except sqlite3.Error:
        return 0


def write(path, header, rows, delimiter=",", bom=False):
    text = delimiter.join(header) + "\n" + "".join(delimiter.join(f"{v:.17g}" for v in row) + "\n" for row in rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path
