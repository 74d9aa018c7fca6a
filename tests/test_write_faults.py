"""Every file the tool writes, on real read-only and full file systems (small tmpfs mounts): one line and exit 2, the
stored runs intact, nothing half-written, and the next run (space freed, the folder writable again) finishes the job
without training a stored run again.

The full file system is swept: it is filled to leave less and less room than a whole study writes (its store, the
trackers' files, plots, report and summary), so that the disk fills at each of those writes in turn; the read-only one
is read-only before the study starts, with one of its runs stored, or before its folder exists. Mounting
needs root: CI runs as root and sets ISOFLOP_REQUIRE_MOUNT=1, so there a failed mount fails instead of skipping.
"""

import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

from isoflop.results.store import Store
from test_bad_input import run

REQUIRED = os.environ.get("ISOFLOP_REQUIRE_MOUNT") == "1"
ROOM = 8 << 20  # each mount: 8 MiB, more than a whole study writes


@contextmanager
def tmpfs(folder: Path):
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={ROOM}", "tmpfs", str(folder)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        reason = f"cannot mount a tmpfs here ({mounted.stderr.strip() or 'not root'})"
        pytest.fail(reason) if REQUIRED else pytest.skip(reason)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def remount(folder: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(folder)], check=True)


def fill(folder: Path, leave: int) -> Path:
    """A ballast file taking all but ``leave`` bytes of the file system's free space."""
    stats = os.statvfs(folder)
    ballast = folder / "ballast"
    with ballast.open("wb") as file:
        file.truncate(0)
        file.write(b"\0" * max(0, stats.f_bavail * stats.f_frsize - leave))
    return ballast


@pytest.fixture
def study_args(corpus):
    train, valid = corpus
    return ("scarcity", "--train-data", train, "--validation-data", valid, "--tokenizer", "bytes", "--seq-len", "16",
            "--budget-passes", "4", "--unique-samples", "1,2", "--seeds", "1", "--eval-samples", "2", "--fit-bootstrap", "20",
            "--report-to", "tensorboard", "--quiet")


def one_line(code: int, stderr: str) -> None:
    """Exit 2 and one error line, the last (a study says where its trackers write before it starts)."""
    lines = stderr.strip().splitlines()
    assert code == 2 and "Traceback" not in stderr and [line for line in lines if line.startswith("error: ")] == lines[-1:]


def intact(folder: Path) -> int:
    """The folder's stored runs all readable and completed, and no temporary file left; how many."""
    assert not [path for path in folder.rglob("*") if ".partial" in path.name], "a half-written file was left"
    if not (folder / "results.sqlite").exists():
        return 0
    with Store(folder, create=False) as store:
        records = store.records()
    assert all(record.completed and record.final_val_loss is not None for record in records)
    return len(records)


def finished(folder: Path, study_args, stored_before: int) -> None:
    """The same command again: exit 0, only the runs not stored trained, the report and summary written."""
    code, stdout, stderr = run(*study_args, "--output", folder)
    assert code == 0, stderr
    assert f"{2 - stored_before} run(s) trained" in stdout
    assert (folder / "report.html").is_file() and (folder / "summary.md").is_file() and intact(folder) == 2


@pytest.mark.slow  # 5 small studies
def test_a_study_on_a_disk_that_fills_at_each_write_ends_in_one_line_and_finishes_when_rerun(tmp_path, study_args):
    with tmpfs(tmp_path / "fs") as fs:
        code, _, stderr = run(*study_args, "--output", fs / "whole")
        assert code == 0, stderr
        used = sum(path.stat().st_size for path in (fs / "whole").rglob("*") if path.is_file())
        shutil.rmtree(fs / "whole")
        failures = set()
        for share in (0.0, 0.97):  # the lock or the store first; the report last
            folder = fs / f"left-{share}"
            ballast = fill(fs, int(used * share))
            code, _, stderr = run(*study_args, "--output", folder)
            if code != 0:
                one_line(code, stderr)
                assert str(folder) in stderr
                failures.add(stderr)
            ballast.unlink()  # first: opening the store of a folder the disk filled before its schema writes it
            stored = intact(folder) if folder.exists() else 0
            finished(folder, study_args, stored)
            shutil.rmtree(folder)
        assert len(failures) == 2, failures  # the disk filled at a different write each time


def test_a_study_on_a_read_only_folder_ends_in_one_line_and_finishes_when_writable(tmp_path, study_args):
    """Read-only with one of the two runs stored; a fresh folder on a read-only file system is the next test's first
    case, a report still to write the full disk's last. (Linux refuses to make a file system read-only while a file
    is open for writing on it, so a study is not turned read-only mid-run; the full disk above fails it mid-run.)"""
    stored = 1
    with tmpfs(tmp_path / "fs") as fs:
        folder = fs / "out"
        shown = list(study_args)
        shown[shown.index("--unique-samples") + 1] = "1"
        code, _, stderr = run(*shown, "--output", folder)
        assert code == 0, stderr
        (folder / "report.html").unlink()
        before = {path: path.read_bytes() for path in fs.rglob("*") if path.is_file()}
        remount(fs, "ro")
        code, _, stderr = run(*study_args, "--output", folder)
        one_line(code, stderr)
        assert str(fs) in stderr
        remount(fs, "rw")
        assert {path: path.read_bytes() for path in fs.rglob("*") if path.is_file()} == before
        assert intact(folder) == stored
        finished(folder, study_args, stored)


@pytest.mark.slow  # a study and six commands: the default tier keeps one read-only case
def test_every_file_a_command_writes_to_a_read_only_folder_is_one_line_and_nothing_changes(tmp_path, study_args):
    code, _, stderr = run(*study_args, "--output", tmp_path / "study")
    assert code == 0, stderr
    csv = tmp_path / "points.csv"
    csv.write_text("N,D,loss\n" + "".join(f"{n:g},{d:g},{1.7 + 400 / n ** 0.34 + 400 / d ** 0.28:.5f}\n"
                                          for n in (1e6, 3e6, 1e7, 3e7) for d in (1e8, 3e8, 1e9, 3e9)))
    with tmpfs(tmp_path / "fs") as fs:
        shutil.copytree(tmp_path / "study", fs / "study")
        (fs / "study" / "report.html").unlink()  # the next run of the study has a report to write
        before = {path: path.read_bytes() for path in fs.rglob("*") if path.is_file()}
        remount(fs, "ro")
        for args in [(*study_args, "--output", fs / "fresh"),
                     (*study_args, "--output", fs / "study"),
                     ("fit", csv, "--approach", "3", "--bootstrap", "20", "--save", fs / "law.json"),
                     ("fit", csv, "--approach", "3", "--bootstrap", "20", "--plot", fs / "fit.png"),
                     ("show", tmp_path / "study", "--csv", fs / "runs.csv"),
                     ("compare", tmp_path / "study", tmp_path / "study", "--output", fs / "both")]:
            code, _, stderr = run(*args)
            one_line(code, stderr)
            assert str(fs) in stderr
        assert {path: path.read_bytes() for path in fs.rglob("*") if path.is_file()} == before


def test_a_folder_that_vanishes_mid_study_or_before_a_write_ends_in_one_line(tmp_path, study_args, monkeypatch, capsys):
    """Deleted (or moved, or unmounted) while the study runs: SQLite would go on writing into a file nobody can open
    again, so the study stops at the next stored run with one line; the same command then starts it afresh. A
    destination folder gone before fit --save, fit --plot and show --csv write: one line each."""
    from conftest import run_cli

    folder = tmp_path / "out"
    save = Store.save
    # In this process (no worker start-up to wait for); the trackers are the tests above's.
    study_args = study_args[:study_args.index("--report-to")] + ("--quiet", "--executor", "inprocess")

    def vanish_before_the_second(store, record):  # the folder goes while the second run trains
        if store.completed_keys():
            shutil.rmtree(folder)
        save(store, record)

    monkeypatch.setattr(Store, "save", vanish_before_the_second)
    code, _, stderr = run(*study_args, "--output", folder)
    one_line(code, stderr)
    assert f"the output folder {str(folder)!r} vanished while the study ran" in stderr
    assert not folder.exists()  # nothing re-created it half-way: no report, store or plots of a study that is gone
    monkeypatch.undo()
    finished(folder, study_args, 0)
    gone = tmp_path / "gone"
    examples = Path(__file__).resolve().parents[1] / "examples"
    for command in (("fit", examples / "isoflops-default.csv", "--approach", "2", "--save", gone / "law.json"),
                    ("fit", examples / "isoflops-default.csv", "--approach", "2", "--plot", gone / "fit.png"),
                    ("show", folder, "--csv", gone / "runs.csv")):
        code, _, err = run_cli(capsys, *map(str, command))
        assert code == 2 and err.count("error: ") == 1 and "Traceback" not in err and str(gone) in err, err
        assert not gone.exists()
