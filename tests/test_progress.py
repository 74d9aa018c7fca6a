"""Progress where stderr is a log file: plain lines per event and a heartbeat, never bar frames."""

import io

from isoflop.progress import PlainProgress, event, progress


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_log_gets_a_line_per_event_and_a_heartbeat_at_its_interval():
    stream, clock = io.StringIO(), Clock()
    with PlainProgress(None, 1000, "20 runs (fast)", "steps", 60.0, stream, clock=clock) as bar:
        for _ in range(10):
            clock.now += 5
            bar.update(50)  # 50 s in all: no heartbeat yet
        bar.set_postfix_str("training")
        event(bar, "25k at C=1e+11 seed=1 val=2.195")
        clock.now += 61
        bar.update(100)
    lines = stream.getvalue().splitlines()
    assert lines == ["20 runs (fast): 25k at C=1e+11 seed=1 val=2.195 (500/1000 steps (50%), 0m50s)",
                     "20 runs (fast): 600/1000 steps (60%), 1m51s, 25k at C=1e+11 seed=1 val=2.195",
                     "20 runs (fast): done: 600/1000 steps (60%), 1m51s"]
    assert "\r" not in stream.getvalue()


def test_a_log_file_never_gets_bar_frames_and_a_terminal_gets_a_bar():
    log = io.StringIO()
    bar = progress(total=10, desc="x", unit="steps", stream=log)
    assert isinstance(bar, PlainProgress)

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    with progress(total=10, desc="x", unit="steps", stream=terminal) as bar:
        bar.update(10)
        event(bar, "done here")
    assert "\r" in terminal.getvalue() and "done here" in terminal.getvalue()
    assert not isinstance(progress(total=1, enabled=False, stream=log), PlainProgress)


def test_a_transient_or_delayed_bar_leaves_no_line_in_a_log_unless_it_ran_long():
    stream, clock = io.StringIO(), Clock()
    with PlainProgress(None, 10, "fit", "fits", 60.0, stream, closing=False, clock=clock) as bar:
        bar.update(10)
    assert stream.getvalue() == ""
    with PlainProgress(None, 10, "fit", "fits", 60.0, stream, closing=False, clock=clock) as bar:
        clock.now += 61
        bar.update(10)
    assert stream.getvalue().splitlines() == ["fit: 10/10 fits (100%), 1m01s", "fit: done: 10/10 fits (100%), 1m01s"]
