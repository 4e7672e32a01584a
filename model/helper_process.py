"""Child processes forked from this one: the fork itself (:func:`fork_child`,
also the second compiler of :mod:`model.precompile`), and a helper that
loads modules while this process works, then makes one call for it.

``povsim run`` spends about 0.3 s importing matplotlib and about as long
drawing its charts, one after the other with the simulation on one core of
two. :class:`HelperProcess`, started as the command begins, imports the
drawing modules in a fork of this process while the run loads its kernels and
simulates; the run then hands it the dataset (:meth:`HelperProcess.submit`),
writes its other files while the charts are drawn, and collects the answer
(:meth:`HelperProcess.result`): the same files, a quarter to a third of a
second sooner.

The helper forks only where it is safe: on Linux (:func:`can_fork`), from a
process that runs one thread (a fork copies the memory of the others' locks
but not the threads that would release them). ``povsim run`` starts it
before anything has imported numpy, whose BLAS starts threads. Elsewhere,
or with more threads (in Jupyter, or a test calling :func:`model.cli.main`),
the helper makes the call in this process: same result, no time saved.

The call and its arguments go to the child, and its result back, pickled
through two pipes between the two processes (both this program's own
objects). Only the standard library is imported here: forking comes before
numpy.
"""

from __future__ import annotations

import functools
import gc
import importlib
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Self

from model.clib import libc


def can_fork() -> bool:
    """Whether this platform may fork a child that goes on with Python
    (Linux: on macOS, the system's libraries are not safe to use in a forked
    child; Windows cannot fork)."""
    return sys.platform == "linux" and hasattr(os, "fork")


def fork_is_safe() -> bool:
    """Whether this process may fork a child that imports modules and works:
    :func:`can_fork`, with one thread running (counted by the system, so
    that threads Python does not know of, such as a BLAS pool, count)."""
    if not can_fork():
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def fork_child(work: Callable[[], object], quiet: bool = False) -> int:
    """Fork; the child runs ``work()`` and leaves by :func:`os._exit` (code 0
    if it returned, 1 if it raised), so that nothing of this process runs
    twice: not its buffered output, its exit handlers, nor the rest of the
    caller's code. Returns the child's process id, in this process.

    With ``quiet`` the child writes nothing: its descriptors and Python's
    streams go to the null device (in Jupyter, Python's streams would send
    to the notebook through a thread the child does not have).
    """
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            _end_with_parent(parent)
            if quiet:
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, 1)
                os.dup2(null, 2)
                sys.stdout = sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
            work()
            code = 0
        finally:
            os._exit(code)
    return pid


PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)


def _end_with_parent(parent: int) -> None:
    """Have the system kill this forked child when its parent ends, even by
    a kill the parent cannot catch (Linux ``PR_SET_PDEATHSIG``), and end
    now if the parent has already ended. Otherwise a killed run's child
    would go on: the chart helper writing into the staging folder that the
    next run's recovery removes, the second compiler compiling for no one.

    The signal comes when the thread that forked ends: :func:`fork_child`'s
    callers fork from the thread that then waits for the child (the
    helper only from a process of one thread)."""
    prctl = getattr(libc(), "prctl", None)
    if prctl is None:  # not Linux: a child that outlives its parent
        return
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent ended before the request
        os._exit(1)


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
        self._pid: int | None = None
        self._outcome: tuple | None = None
        if fork if fork is not None else fork_is_safe():
            call_in, call_out = os.pipe()      # this process -> the child
            answer_in, answer_out = os.pipe()  # the child -> this process
            self._pid = fork_child(functools.partial(
                _serve, tuple(modules), call_in, answer_out, (call_out, answer_in)))
            os.close(call_in)
            os.close(answer_out)
            self._call = os.fdopen(call_out, "wb")
            self._answer = os.fdopen(answer_in, "rb")

    @property
    def forked(self) -> bool:
        """Whether the call is made in a child process."""
        return self._pid is not None

    def submit(self, function: Callable, *args) -> None:
        """Start ``function(*args)``: in the child, or here at once.

        ``function`` must be a module-level function (sent by name)."""
        if self._outcome is not None:
            raise RuntimeError("a helper process makes one call")
        if self._pid is None:
            try:
                self._outcome = ("value", function(*args))
            except Exception as err:  # noqa: BLE001  (raised by result(), as the child's)
                self._outcome = ("error", err)
            return
        self._outcome = ("sent", (function, args))
        try:
            with self._call:
                pickle.dump((function, args), self._call, protocol=pickle.HIGHEST_PROTOCOL)
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
                self._outcome = pickle.load(self._answer)
            except (EOFError, OSError, pickle.UnpicklingError):
                self._outcome = None
                self.close()
                self.submit(function, *args)
            else:
                self.close()   # the child has answered: it is leaving
        kind, value = self._outcome
        if kind == "error":
            raise value
        return value

    def close(self) -> None:
        """End the child if it is still running (it has not answered), and
        wait for it."""
        if self._pid is None:
            return
        pid, self._pid = self._pid, None
        if self._outcome is None or self._outcome[0] == "sent":
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:  # it has ended already
                pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:  # waited for elsewhere
            pass
        self._call.close()
        self._answer.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _serve(modules: tuple[str, ...], call_in: int, answer_out: int, parents: tuple) -> None:
    """The child: import ``modules``, then make the one call received and
    send back ("value", result) or ("error", exception). Leaves quietly when
    the parent closes its pipe without a call, or on an interruption (the
    parent reports it)."""
    for fd in parents:  # this process's copies of the parent's ends: EOF comes when it closes
        os.close(fd)
    gc.disable()        # a short life: nothing to collect worth the walks
    try:
        imported = _import(modules)
        with os.fdopen(call_in, "rb") as calls:
            try:
                function, args = pickle.load(calls)
            except EOFError:
                return
        if imported is not None:
            answer = ("error", imported)
        else:
            try:
                answer = ("value", function(*args))
            except Exception as err:  # noqa: BLE001  (sent back, raised by result())
                answer = ("error", _sendable(err))
        with os.fdopen(answer_out, "wb") as answers:
            pickle.dump(answer, answers, protocol=pickle.HIGHEST_PROTOCOL)
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
