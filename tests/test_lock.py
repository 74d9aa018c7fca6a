"""One writer per output folder: a second process is told who holds it, or waits."""

import subprocess
import sys
import textwrap
import threading

import pytest

from isoflop import UsageError
from isoflop.lock import FolderLock

HOLDER = textwrap.dedent("""
    import sys
    from isoflop.lock import FolderLock
    with FolderLock(sys.argv[1]):
        print("held", flush=True)
        sys.stdin.readline()
""")


@pytest.fixture
def held(tmp_path):
    """Another process holding the lock of ``tmp_path / 'out'`` until the test ends (or releases it)."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "out")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    yield holder
    if holder.poll() is None:
        holder.communicate("\n", timeout=30)


def test_a_second_writer_is_told_who_holds_the_folder(tmp_path, held):
    with pytest.raises(UsageError, match=rf"in use by isoflop process {held.pid} on .* \(since .*--wait"):
        with FolderLock(tmp_path / "out"):
            pass


def test_with_wait_the_second_writer_goes_on_once_the_first_is_done(tmp_path, held):
    said, waiting, acquired = [], threading.Event(), threading.Event()

    def echo(line):
        said.append(line)
        waiting.set()

    def second():
        with FolderLock(tmp_path / "out", wait=True, echo=echo):
            acquired.set()

    thread = threading.Thread(target=second)
    thread.start()
    assert waiting.wait(timeout=30) and not acquired.is_set()
    held.communicate("\n", timeout=30)  # the holder lets go
    thread.join(timeout=30)
    assert acquired.is_set() and "waiting for isoflop process" in said[0]


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "out")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait(timeout=30)
    with FolderLock(tmp_path / "out"):
        pass
