"""One writer per output folder: an OS file lock that dies with its process.

``flock`` is released by the kernel when the process ends, however it ends, so a
SIGKILL never leaves a stale lock. The lock file says who holds it (PID, host, since
when) so that a second process can tell the user.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from .errors import UsageError

LOCK_NAME = ".isoflop.lock"


class FolderBusy(UsageError):
    """Another process holds the folder."""


class FolderLock:
    """Exclusive use of ``folder`` while the ``with`` block runs; ``wait`` blocks instead of refusing."""

    def __init__(self, folder: Path, wait: bool = False, echo: Callable[[str], None] = print):
        self.path = Path(folder) / LOCK_NAME
        self.wait = wait
        self.echo = echo
        self.fd: int | None = None

    def __enter__(self) -> FolderLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = describe_holder(self.path)
            if not self.wait:
                os.close(fd)
                raise FolderBusy(
                    f"{str(self.path.parent)!r} is in use by {holder}; wait for it to finish, pass --wait to queue "
                    "behind it, or choose another --output"
                ) from None
            self.echo(f"waiting for {holder} to release {self.path.parent} ...")
            fcntl.flock(fd, fcntl.LOCK_EX)
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        try:
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(holder).encode())
        except OSError:  # a full disk: released, so that this process can take the folder again once there is room
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            raise
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def describe_holder(path: Path) -> str:
    """Who holds the lock, as its file says ("another isoflop process" while it has not said yet)."""
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
        return f"isoflop process {holder['pid']} on {holder['host']} (since {holder['since']})"
    except (OSError, ValueError, KeyError):
        return "another isoflop process"
