"""The first run after install compiles its kernels on two cores.

A run's numba kernels (some 10 s of compilation on the first run after
install, then loaded from numba's cache) are compiled one after another as
the first simulated year reaches them. On that first run, before the
simulated year, :func:`compile_first_run` compiles the kernels listed in
``kernel_signatures.json`` (those of the default scenario, each with the
seconds its compilation took when the list was written), while a second
process (on Linux a fork of this one, :class:`_Forked`; elsewhere ``python
-m model.precompile FOLDER``) compiles shared ones. This process takes the
shared kernels from the first onwards and the second from the last
backwards, in the order of :func:`shared_order`: the run's order cut into
two halves that take as long to compile, each half longest first. Each
process claims a kernel before compiling it (a file created in FOLDER,
which only one process can create), and stops at the first kernel the
other has claimed: each kernel is compiled once, and the two meet in the
middle, among short kernels, so neither waits long for the other. Each
kernel is saved to numba's cache as soon as it is compiled, so the year
that follows loads them all.

Two processes saving two signatures of one function at the same moment
could mix up that function's cache entries (numba numbers the data files
of a function from its index), so a kernel is shared only when its
functions (its own and those it calls that numba caches) compile with
one signature in a default run, and only a run of the default programmes
starts the second process; the other kernels this process compiles
itself, first. While the second process lives, this one compiles only
listed signatures: the year, which may need others, starts once the
second process has exited.

``povsim run`` and ``povsim compare`` start the second process before
they load the registry (:func:`compiling_ahead`): on a fresh install the
registry is built while the second process compiles, and this process
joins it in :func:`compile_first_run`. Meanwhile this process compiles only functions
the second never does (the registry's draws, when a registry is large
enough to take them).

The list only decides who compiles what ahead of the year: the year
compiles whatever is still missing, so a stale list costs time, never a
result. ``python -m model.precompile --write`` rewrites the list and
``tests/test_precompile.py`` checks it against a run.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

from numba.core.errors import NumbaError

from model.helper_process import can_fork, fork_child

LIST = "kernel_signatures.json"
MODULES = ("model.random", "model.engine.kernels", "model.engine.rules",
           "model.engine.active_rule", "model.engine.bookkeeping", "model.engine.coverage",
           "model.engine.one_pass", "model.engine.delivery_order", "model.engine.backlog",
           "model.engine.delivery_timeline", "model.engine.attribution", "model.engine.tally",
           "model.engine.initial_income", "model.engine.threads", "model.engine.selection",
           "model.engine.rows", "model.engine.ordered_sums", "model.engine.events",
           "model.programmes.means_test")
WAIT = 600.0  # s: the longest this process waits for the second one to finish its kernel


@functools.cache  # read once a process: the first run reads it several times
def _listing() -> dict:
    text = resources.files("model").joinpath(LIST).read_text(encoding="utf-8")
    return json.loads(text)


def listed() -> list[tuple[str, list[str], bool]]:
    """(``module:function``, argument types, shared) of the kernels a
    default run compiles, in the order it reaches them; a shared one may be
    compiled by the second process."""
    return [(name, args, shared) for name, args, shared, *_ in _listing()["kernels"]]


def default_programmes() -> tuple[str, ...]:
    """The programmes of the default scenario, for which the list is made."""
    return tuple(_listing()["programmes"])


def compile_seconds() -> list[float]:
    """Seconds each listed kernel took to compile (with the functions it
    calls that were not compiled yet) when the list was written, in the
    order of :func:`listed`; 0.0 where the list does not say."""
    return [float(entry[3]) if len(entry) > 3 else 0.0 for entry in _listing()["kernels"]]


def shared_order() -> list[tuple[int, tuple[str, list[str], bool]]]:
    """The shared kernels as (position in :func:`listed`, entry), in the
    order this process takes them from the first and the second process
    from the last.

    The run's order is cut where the two halves take as long to compile
    (the kernels only this process compiles counted in its half), so that
    each process compiles the kernels near one another in the run, which
    call the same functions; each half is taken longest first, so that the
    kernels left when the two meet are short ones."""
    seconds = compile_seconds()
    entries = list(enumerate(listed()))
    shared = [k for k in entries if k[1][2]]
    own = sum(seconds[position] for position, (_, _, is_shared) in entries if not is_shared)
    total = own + sum(seconds[position] for position, _ in shared)
    cut, done = 0, own
    while cut < len(shared) and done + seconds[shared[cut][0]] / 2 < total / 2:
        done += seconds[shared[cut][0]]
        cut += 1
    first = sorted(shared[:cut], key=lambda k: -seconds[k[0]])
    last = sorted(shared[cut:], key=lambda k: seconds[k[0]])
    return first + last


def dispatcher(name: str):
    """The numba dispatcher ``module:function`` (a threaded kernel's own
    compiled function, its ``.kernel``)."""
    module, function = name.split(":")
    found = getattr(importlib.import_module(module), function)
    return getattr(found, "kernel", found)


def numba_type(text: str):
    """A numba type from its short text: ``int16``, ``uint64``, ``bool``, or
    a C-contiguous array ``float32[:]``, ``int64[:,:]``."""
    from numba.core import types

    name, _, dims = text.partition("[")
    scalar = types.boolean if name == "bool" else getattr(types, name, None)
    if not isinstance(scalar, (types.Number, types.Boolean)):
        raise TypeError(f"{LIST}: {text!r} is not a numeric type or array of one")
    return types.Array(scalar, dims.count(":"), "C") if dims else scalar


def type_text(numba_type) -> str:
    """The short text of a numba type (:func:`numba_type` reads it back)."""
    from numba.core import types

    if isinstance(numba_type, types.Array):
        if numba_type.layout != "C" or not numba_type.mutable:
            raise ValueError(f"{numba_type}: only writable C-contiguous arrays are listed")
        return f"{numba_type.dtype}[{','.join(':' * numba_type.ndim)}]"
    return str(numba_type)


def is_cold() -> bool:
    """True when numba's cache holds nothing for the last listed kernel: the
    first run after install (or after that kernel's source changed)."""
    try:
        name = listed()[-1][0]
        index = dispatcher(name)._cache._cache_file._index_path
    except (AttributeError, IndexError, KeyError, OSError, ValueError):
        return False  # another numba, or no list: compile as usual
    return not os.path.exists(index)


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def compile_first_run(programmes: tuple[str, ...]) -> bool:
    """On the first run after install (numba's cache empty), with the
    default scenario's programmes and two cores or more, compile the listed
    kernels on two cores (see the module's docstring); else do nothing.
    True if it compiled. The second process is the one
    :func:`compiling_ahead` started, if it did."""
    global _ahead
    compiling, _ahead = _ahead, None
    if compiling is None:
        compiling = _start(programmes)
    if compiling is None:
        return False
    compiling.finish()
    return True


_ahead: _Compiling | None = None


@contextlib.contextmanager
def compiling_ahead(programmes: tuple[str, ...]):
    """Start the second process of :func:`compile_first_run` now, when it
    would start, so that it compiles while this process does other work in
    the block (loads the registry: on a fresh install, builds it); the
    first :func:`compile_first_run` in the block then compiles this
    process's share and waits for it. A second process that nothing waited
    for ends with the block."""
    global _ahead
    _ahead = _start(programmes)
    try:
        yield
    finally:
        compiling, _ahead = _ahead, None
        if compiling is not None:
            compiling.stop()


def _start(programmes: tuple[str, ...]) -> _Compiling | None:
    """The second process started, on the first run after install with the
    default programmes and two cores or more; else None."""
    try:
        if os.environ.get("NUMBA_DISABLE_JIT") == "1" or programmes != default_programmes():
            return None
    except (KeyError, OSError, ValueError):
        return None  # no list
    if _cores() < 2 or not is_cold():
        return None
    return _Compiling()


class _Compiling:
    """The first run's compilation: the second process started with it,
    this process's share in :meth:`finish`."""

    def __init__(self):
        self.shared = shared_order()
        self.folder = tempfile.TemporaryDirectory(prefix="povsim-compile-")
        claims = self.folder.name
        if can_fork():
            self.second = _Forked(self.shared[::-1], Path(claims))
        else:
            self.second = subprocess.Popen(
                [sys.executable, "-m", "model.precompile", claims], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def finish(self) -> None:
        """Compile this process's share, then wait for the second process."""
        try:
            mine = [k for k in enumerate(listed()) if not k[1][2]] + self.shared
            _compile_claimed(mine, Path(self.folder.name))
            self.second.wait(timeout=WAIT)  # it finishes the kernel it holds, then stops
        finally:
            self.stop()

    def stop(self) -> None:
        """End the second process if it runs; remove the claims."""
        if self.second.poll() is None:
            self.second.kill()
            self.second.wait()
        self.folder.cleanup()


class _Forked:
    """The second process as a fork of this one, with the part of
    :class:`subprocess.Popen` that :func:`compile_first_run` uses.

    A new interpreter spends about a second importing numba and the kernels'
    modules before it compiles anything: half a second of the first run's
    wall time, as the two processes share the kernels. A fork starts with
    them loaded. The child only compiles (no thread of this process, such as
    a kernel's thread pool, runs in it), then leaves without running
    anything of this process twice; like the new interpreter, it writes
    nothing (:func:`model.helper_process.fork_child`, ``quiet``).
    """

    def __init__(self, kernels, claims: Path):
        self.returncode: int | None = None
        self.pid = fork_child(functools.partial(_compile_claimed, kernels, claims), quiet=True)

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"fork {self.pid}", timeout)
            time.sleep(0.005)
        return self.returncode

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)


def _compile_claimed(kernels, claims: Path) -> None:
    """Compile each of ``kernels`` ((position, (name, args, shared))) this
    process can claim, stopping at the first the other process holds."""
    for position, (name, args, _) in kernels:
        try:
            os.close(os.open(claims / str(position), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
        try:
            dispatcher(name).compile(tuple(numba_type(a) for a in args))
        except (NumbaError, TypeError, ValueError, AttributeError, ImportError):
            continue  # a stale entry: the run compiles what it needs


def _known() -> dict[int, str]:
    """``module:function`` of each numba function of :data:`MODULES`, by id."""
    known = {}
    for module in MODULES:
        for attr, value in vars(importlib.import_module(module)).items():
            kernel = getattr(value, "kernel", value)
            if hasattr(kernel, "py_func") and kernel.py_func.__module__ == module:
                known[id(kernel)] = f"{module}:{attr}"
    return known


def _calls(kernel, args: tuple) -> set[tuple]:
    """(numba function, argument types) of ``kernel`` and of every numba
    function it calls, transitively, as compiled in this process."""
    from numba.core import ir, types

    found = {(kernel, args)}
    annotation = kernel.overloads[args].type_annotation
    if annotation is None:
        raise RuntimeError("loaded from numba's cache: survey in a process with an empty cache")
    for expr, signature in annotation.calltypes.items():
        if isinstance(expr, ir.Expr) and expr.op == "call":
            called = annotation.typemap.get(expr.func.name)
            if isinstance(called, types.Dispatcher):
                found |= _calls(called.dispatcher, tuple(signature.args))
    return found


def _cached(function) -> bool:
    """Whether numba caches ``function`` (one not cached writes no cache
    entry: it is compiled into each kernel that calls it)."""
    from numba.core.caching import NullCache

    return not isinstance(function._cache, NullCache)


def survey() -> dict:
    """What a default run compiles, in this process (whose numba cache must
    be empty): its programmes, and the kernels it calls from Python whose
    functions (theirs and those they call that numba caches) all compile
    with one signature in the run, in the order they finish compiling
    (those of the small year of :func:`model.runs.prepare_kernels` first,
    then those only the whole run reaches), each with the seconds it took
    to compile."""
    from numba.core import event

    from model import runs
    from model.scenario import load_scenario

    known = _known()
    depth: list[int] = [0]
    started: list[float] = [0.0]
    top: list[tuple] = []

    class Listener(event.Listener):
        def on_start(self, ev):
            if depth[0] == 0:
                started[0] = time.perf_counter()
            depth[0] += 1

        def on_end(self, ev):
            depth[0] -= 1
            if depth[0] == 0 and id(ev.data["dispatcher"]) in known:
                top.append((ev.data["dispatcher"], tuple(ev.data["args"]),
                            time.perf_counter() - started[0]))

    scenario = load_scenario()
    registry = runs.registry_for(scenario)
    with event.install_listener("numba:compile", Listener()):
        runs.simulate_first_year(scenario, registry)  # as prepare_kernels, then the run
        runs.run_seed(scenario, 0, registry)
    trees = [(kernel, args, _calls(kernel, args), seconds) for kernel, args, seconds in top]
    signatures: dict[int, set] = {}
    for _, _, tree, _ in trees:
        for function, args in tree:
            signatures.setdefault(id(function), set()).add(args)
    kernels = [[known[id(kernel)], [type_text(t) for t in args],
                all(len(signatures[id(function)]) == 1 for function, _ in tree
                    if _cached(function)),
                round(seconds, 2)]
               for kernel, args, tree, seconds in trees]
    return {"programmes": sorted(scenario.programmes), "kernels": kernels}


def main(argv: list[str]) -> int:
    if argv in (["--write"], ["--survey"]):
        if argv == ["--survey"]:  # in a process with an empty cache, as --write starts it
            print(json.dumps(survey()))
            return 0
        with tempfile.TemporaryDirectory(prefix="numba-cache-") as empty:
            found = subprocess.run([sys.executable, "-m", "model.precompile", "--survey"],
                                   env=dict(os.environ, NUMBA_CACHE_DIR=empty),
                                   capture_output=True, text=True, check=True)
        listing = json.loads(found.stdout.splitlines()[-1])
        path = Path(__file__).with_name(LIST)
        path.write_text(json.dumps(listing, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {len(listing['kernels'])} kernels to {path.name}")
        return 0
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python -m model.precompile [--write | CLAIMS_FOLDER]", file=sys.stderr)
        return 2
    _compile_claimed(shared_order()[::-1], Path(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
