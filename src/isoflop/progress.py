"""Progress on stderr: a bar on a terminal; plain lines in a log file (a batch system's stderr, a redirect).

A bar redraws itself with carriage returns, which a log file keeps frame by frame (one 7-minute study
wrote ~700 KB of them under a batch system). Where stderr is not a terminal, progress is one line per
event (a run stored) and a heartbeat line every ``heartbeat`` seconds, nothing in between.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator

HEARTBEAT_SECONDS = 60.0


def progress(iterable: Iterable | None = None, *, total: int | None = None, desc: str = "", unit: str = "it",
             enabled: bool = True, delay: float = 0.0, leave: bool = True, initial: int = 0,
             heartbeat: float = HEARTBEAT_SECONDS, stream=None):
    """A tqdm bar where ``stream`` (default stderr) is a terminal, else a ``PlainProgress``; nothing when not
    ``enabled``. Both take ``update``, ``set_postfix``, ``set_postfix_str`` and iterate ``iterable``; ``event``
    reports a milestone either way."""
    stream = stream or sys.stderr
    if not enabled or stream.isatty():
        from tqdm.auto import tqdm

        return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not enabled, delay=delay, leave=leave,
                    initial=initial, file=stream)
    return PlainProgress(iterable, total, desc, unit, heartbeat, stream, initial, closing=leave and not delay)


def event(bar, text: str) -> None:
    """A milestone (a run stored): a line of its own in a log, the bar's postfix on a terminal."""
    getattr(bar, "event", bar.set_postfix_str)(text)


class PlainProgress:
    """Progress as plain lines: each event, and a heartbeat (count, share, elapsed, the latest status) at most every
    ``heartbeat`` seconds."""

    def __init__(self, iterable, total, desc, unit, heartbeat, stream, initial=0, closing=True, clock=time.monotonic):
        self.iterable, self.total, self.desc, self.unit = iterable, total, desc, unit.strip()
        self.heartbeat, self.stream, self.clock, self.closing = heartbeat, stream, clock, closing
        self.n, self.status, self.initial = initial, "", initial
        self.started = self.last = clock()

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def __iter__(self) -> Iterator:
        for item in self.iterable:
            yield item
            self.update(1)

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.clock() - self.last >= self.heartbeat:
            self._line(self._counts())

    def set_postfix_str(self, text: str = "", refresh: bool = True) -> None:
        self.status = text

    def set_postfix(self, **values) -> None:
        self.status = ", ".join(f"{name}={value}" for name, value in values.items())

    def event(self, text: str) -> None:
        self.status = text
        self._line(f"{text} ({self._counts(status=False)})")

    def close(self) -> None:
        """The closing line: always after a heartbeat; without one, only for a bar that a terminal would keep."""
        if self.n > self.initial and (self.closing or self.last != self.started):
            self._line(f"done: {self._counts(status=False)}")

    def _counts(self, status: bool = True) -> str:
        share = f" ({self.n / self.total:.0%})" if self.total else ""
        of = f"/{self.total}" if self.total else ""
        last = f", {self.status}" if status and self.status else ""
        return f"{self.n}{of} {self.unit}{share}, {_elapsed(self.clock() - self.started)}{last}"

    def _line(self, text: str) -> None:
        self.last = self.clock()
        print(f"{self.desc}: {text}" if self.desc else text, file=self.stream, flush=True)


def _elapsed(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"
