"""A second process that loads modules while this one works, then makes one
call for it.

``povsim run`` spends about 0.3 s importing matplotlib and about as long
drawing its charts, one after the other with the simulation on one core of
two. :class:`HelperProcess`, started as the command begins, imports the
drawing modules in a fork of this process while the run loads its kernels and
simulates; the run then hands it the dataset (:meth:`HelperProcess.submit`),
writes its other files while the charts are drawn, and collects the answer
(:meth:`HelperProcess.result`): the same files, a quarter to a third of a
second sooner.

A fork is made only where it is safe: on Linux, from a process that runs one
thread (a fork copies the memory of the others' locks but not the threads
that would release them). ``povsim run`` starts it before anything has
imported numpy, whose BLAS starts threads. Elsewhere, or with more threads
(in Jupyter, or a test calling :func:`model.cli.main`), the helper makes the
call in this process: same result, no time saved.

The call and its arguments go to the child, and its result back, pickled
through a pipe between the two processes (both this program's own objects).
"""

from __future__ import annotations

import gc
import importlib
import multiprocessing
import os
import pickle
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Self


def fork_is_safe() -> bool:
    """Whether this process may fork a child that imports modules and works:
    Linux (on macOS the system's libraries are not safe to use in a forked
    child), with one thread running."""
    if sys.platform != "linux" or threading.active_count() != 1:
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1   # threads that Python does not see
    except OSError:
        return False


class HelperProcess:
    """A forked child that imports ``modules`` now and makes one call later.

    Parameters
    ----------
    modules : sequence of str
        Modules the child imports as soon as it starts.
    fork : bool, optional
        Fork a child (default: where :func:`fork_is_safe`); otherwise
        :meth:`submit` makes the call in this process.

    Use it as a context manager: leaving the block ends a child that has
    not answered (an error or an interruption in this process).
    """

    def __init__(self, modules: tuple[str, ...] | list[str], fork: bool | None = None):
        self._process = None
        self._outcome: tuple | None = None
        if fork if fork is not None else fork_is_safe():
            context = multiprocessing.get_context("fork")
            self._pipe, child_end = context.Pipe()
            self._process = context.Process(target=_serve, args=(tuple(modules), child_end),
                                            name="povsim-helper", daemon=True)
            self._process.start()
            child_end.close()

    @property
    def forked(self) -> bool:
        """Whether the call is made in a child process."""
        return self._process is not None

    def submit(self, function: Callable, *args) -> None:
        """Start ``function(*args)``: in the child, or here at once.

        ``function`` must be a module-level function (sent by name)."""
        if self._outcome is not None:
            raise RuntimeError("a helper process makes one call")
        if self._process is None:
            try:
                self._outcome = ("value", function(*args))
            except Exception as err:  # noqa: BLE001  (raised by result(), as the child's)
                self._outcome = ("error", err)
            return
        self._outcome = ("sent", (function, args))
        try:
            self._pipe.send((function, args))
        except OSError:  # the child has ended: result() makes the call here
            pass

    def result(self):
        """The value of the submitted call, or its exception raised here.

        If the child ended without answering (killed, out of memory), the
        call is made in this process: the same value, later."""
        if self._outcome is None:
            raise RuntimeError("nothing was submitted to the helper process")
        if self._outcome[0] == "sent":
            function, args = self._outcome[1]
            try:
                self._outcome = self._pipe.recv()
            except (EOFError, OSError):
                self._outcome = None
                self.close()
                self._process = None
                self.submit(function, *args)
            else:
                self._process.join()
        kind, value = self._outcome
        if kind == "error":
            raise value
        return value

    def close(self) -> None:
        """End the child if it is still running (it has not answered)."""
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join()
            self._pipe.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _serve(modules: tuple[str, ...], pipe) -> None:
    """The child: import ``modules``, then make the one call received and
    send back ("value", result) or ("error", exception). Leaves quietly when
    the parent closes the pipe without a call, or on an interruption (the
    parent reports it)."""
    gc.disable()        # a short life: nothing to collect worth the walks
    try:
        imported = _import(modules)
        try:
            function, args = pipe.recv()
        except EOFError:
            return
        if imported is not None:
            answer = ("error", imported)
        else:
            try:
                answer = ("value", function(*args))
            except Exception as err:  # noqa: BLE001  (sent back, raised by result())
                answer = ("error", _sendable(err))
        pipe.send(answer)
    except KeyboardInterrupt:
        return
    finally:
        sys.stderr.flush()


def _import(modules: tuple[str, ...]) -> Exception | None:
    """Import ``modules``; the first failure, to report when the call comes."""
    try:
        for name in modules:
            importlib.import_module(name)
    except ImportError as err:
        return _sendable(err)
    return None


def _sendable(err: Exception) -> Exception:
    """``err`` if it survives pickling, else a RuntimeError with its text and
    traceback (an exception whose constructor takes other arguments than it
    stores cannot be rebuilt on the other side)."""
    try:
        pickle.loads(pickle.dumps(err))
        return err
    except Exception:  # noqa: BLE001  (any failure to rebuild: send the text instead)
        text = "".join(traceback.format_exception(err)).rstrip()
        return RuntimeError(f"in the helper process: {text}")

