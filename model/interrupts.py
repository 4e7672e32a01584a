"""Holding Ctrl-C across a step that must not be cut short.

Python raises ``KeyboardInterrupt`` wherever the main thread happens to be
when SIGINT arrives. A few library steps are not safe to leave half way:

- netCDF's writer holds a lock of its own, and an interrupted write can
  leave it held, so that closing the file at exit waits for ever;
- a thread pool registers a new thread for the exit's join only after
  starting it, so an interrupt in between leaves a thread that nobody
  wakes, and the exit waits for ever.

:func:`interrupts_held` runs such a step whole and raises the interrupt
after it.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager

# what a file write finishes, for the line of :func:`interrupts_held`
WRITING = "the file being written is complete"


@contextmanager
def interrupts_held(until: str):
    """Hold Ctrl-C (SIGINT) while the block runs, and raise it as
    ``KeyboardInterrupt`` when the block ends.

    Only in the main thread with Python's own SIGINT handler (elsewhere the
    block runs as it is: a signal reaches Python's handler in the main
    thread only, and a handler someone installed stays in charge). The
    first Ctrl-C held says so on standard error, ``povsim: Ctrl-C: stopping
    once <until>``: a large file may take a while.

    Parameters
    ----------
    until : str
        What the block finishes, for that line ("the file being written is
        complete").
    """
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    received = []

    def hold(signum, frame):
        if not received:
            print(f"povsim: Ctrl-C: stopping once {until}", file=sys.stderr, flush=True)
        received.append(signum)

    signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if received:
        raise KeyboardInterrupt
