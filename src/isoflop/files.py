"""Writing files so that a reader never sees half of one: write beside, then rename over.

The file written beside is named for this process and a random token, so two processes writing
the same target never touch each other's temporary file (the last rename wins, whole).
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import WriteError

PARTIAL = ".partial"


@contextmanager
def atomic_target(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix) that replaces ``path`` when the block succeeds."""
    target = Path(path)
    partial = target.with_name(f".{target.stem}.{os.getpid()}-{secrets.token_hex(4)}{PARTIAL}{target.suffix}")
    try:
        yield partial
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


@contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """A temporary folder beside ``path`` that replaces it (and whatever it held) when the block succeeds; on
    failure or interruption it is removed, so ``path`` is complete or untouched."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=PARTIAL, dir=target.parent))
    try:
        yield staging
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_atomic(path: str | Path, content: str | bytes) -> Path:
    """Write ``content`` to ``path`` complete or not at all (a temporary file renamed over it); a destination that
    cannot be written (read-only, full, gone) is one ``WriteError`` naming it, the old file left as it was."""
    try:
        with atomic_target(path) as partial:
            if isinstance(content, bytes):
                partial.write_bytes(content)
            else:
                partial.write_text(content, encoding="utf-8")
    except OSError as error:
        reason = error.strerror or str(error)
        raise WriteError(f"cannot write {str(path)!r} ({reason}); choose a writable folder with free space", path,
                         reason) from None
    return Path(path)
