"""Errors meant for users: the CLI prints them as one line and exits non-zero."""

import errno
import sqlite3


class UsageError(Exception):
    """A mistake in what the user asked for: bad config, missing data, unknown names.

    The message says what was wrong and what to do about it. Internal bugs raise
    ordinary exceptions and keep their tracebacks.
    """


class ArgumentError(UsageError):
    """A bad argument, named as the caller spells it: a library call reads ``budget_tolerance``, the command line
    ``--budget-tolerance`` (``spelled``). ``template`` has a ``{}`` per name in ``arguments``."""

    def __init__(self, template: str, *arguments: str):
        self.template, self.arguments = template, arguments
        super().__init__(template.format(*arguments))

    def spelled(self, spell) -> str:
        """The message with each argument name passed through ``spell`` (e.g. to a flag)."""
        return self.template.format(*(spell(name) for name in self.arguments))


class WriteError(UsageError):
    """A destination that cannot be written (read-only, full, gone): the user's to fix, named in one line; ``path``
    and ``reason`` where one file is to blame."""

    def __init__(self, message: str, path=None, reason: str | None = None):
        super().__init__(message)
        self.path, self.reason = path, reason


class UnreliableResult(UsageError):
    """A computation that finished with an answer that must not be trusted (a degenerate fit): exit status 1."""

    exit_code = 1


class Interrupted(Exception):
    """Ctrl-C or SIGTERM, with what the command left behind and how to go on (the CLI prints it after 'interrupted:')."""


def first_line(error: BaseException) -> str:
    """The first line of an underlying library's message, to quote inside a one-line UsageError."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# A destination that cannot take what is written to it: full, over quota, read-only, not ours.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}
# What SQLite says for the same causes (it names no file).
_SQLITE_WRITE_FAILURES = ("database or disk is full", "attempt to write a readonly database", "disk i/o error",
                          "unable to open database file")


def write_failure(error: BaseException) -> str | None:
    """Why a write failed, when ``error`` is a destination's fault (full, read-only, not writable), else None."""
    if isinstance(error, OSError) and error.errno in _WRITE_ERRNOS:
        return error.strerror or str(error)
    if isinstance(error, sqlite3.OperationalError) and str(error).lower().startswith(_SQLITE_WRITE_FAILURES):
        return str(error)
    return None
