"""One worker process of the processes executor: ``python -m isoflop.execution.worker PARENT_PID FD``.

A worker is a fresh interpreter that imports isoflop only, never the parent's ``__main__``, so
a plain script without an ``if __name__ == "__main__":`` guard, ``python -`` and a notebook
can all start one. It reads the pickled (engine, data) from its stdin, says it is ready on the
socket ``FD``, then trains the packs it is sent, one at a time, sending back steps and results.

A worker never outlives its parent: a watchdog thread ends it within a fraction of a second of
the parent's death (``pools.die_with_parent``), however the parent died (SIGKILL included). It ignores Ctrl-C, which
reaches the whole process group: interruption is the parent's decision.
"""

from __future__ import annotations

import pickle
import sys
import traceback

def main(argv: list[str]) -> int:
    """A worker process: read (engine, data) from stdin, then train the packs the parent sends; exits with its
    parent."""
    from multiprocessing.connection import Connection

    from ..pools import quiet_worker

    parent, fd = int(argv[0]), int(argv[1])
    quiet_worker(parent)
    from ..errors import first_line
    from ..quiet import silence_libraries

    silence_libraries()
    connection = Connection(fd)
    try:
        import torch

        torch.set_num_threads(1)
        engine, data = pickle.load(sys.stdin.buffer)
    except BaseException:
        traceback.print_exc()  # the parent quotes the last line of this worker's stderr
        return 1
    connection.send(("ready",))
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return 0  # the parent closed its end: nothing more to do
        _, index, pack = message

        def on_step(steps: int, index: int = index) -> None:
            connection.send(("steps", index, steps))

        try:
            for result in engine.train(pack, data, on_step):
                connection.send(("result", index, result))
        except Exception as error:  # noqa: BLE001 - handed to the parent, which stops the study with it
            traceback.print_exc()
            connection.send(("error", index, f"{type(error).__name__}: {first_line(error)}"))
            continue
        connection.send(("done", index))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
