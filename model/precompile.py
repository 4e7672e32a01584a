"""The first run after install compiles its kernels on two cores.

A run's numba kernels (about thirty functions, some 10 s of compilation on
the first run after install, then loaded from numba's cache) are compiled
one after another as the first simulated year reaches them. On that first
run :func:`start` launches ``python -m model.precompile``: a second process
that compiles the signatures listed in ``kernel_signatures.json`` (those of
the default scenario, in the order a run reaches them) from the last
backwards, each saved to numba's cache as soon as it is compiled. This
process meanwhile compiles from the first onwards, and numba loads from the
cache whatever the other process has saved by then: the two meet in the
middle. The list only decides what the second process does; this process
compiles whatever it still needs itself, so a stale list costs time, never a
result. ``python -m model.precompile --write`` rewrites the list and
``tests/test_precompile.py`` checks it against a run.

The cache files of numba are written whole and renamed into place, so the
two processes never read half a file; at worst both compile one kernel.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

LIST = "kernel_signatures.json"
MODULES = ("model.random", "model.engine.kernels", "model.engine.rules",
           "model.engine.bookkeeping", "model.engine.delivery_order",
           "model.engine.delivery_timeline", "model.engine.attribution", "model.engine.tally")


def listed() -> list[tuple[str, list[str]]]:
    """(``module:function``, argument types) of the kernels a default run
    compiles, in the order it reaches them."""
    text = resources.files("model").joinpath(LIST).read_text(encoding="utf-8")
    return [(name, args) for name, args in json.loads(text)["kernels"]]


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
        raise ValueError(f"{LIST}: {text!r} is not a numeric type or array of one")
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
        name, _ = listed()[-1]
        index = dispatcher(name)._cache._cache_file._index_path
    except (AttributeError, IndexError, KeyError, OSError, ValueError):
        return False  # another numba, or no list: compile as usual
    return not os.path.exists(index)


def start(programmes: tuple[str, ...]) -> subprocess.Popen | None:
    """The second compiling process, for the default scenario's programmes
    when the cache is cold (else None). Its output is discarded: whatever it
    does not compile, this process compiles.

    Other programmes may need other signatures of a listed kernel, and two
    processes saving two signatures of one function at once could mix up
    that function's cache entries; so the list holds only kernels whose
    functions the default run compiles with one signature each, and only a
    run of the default programmes starts the second process."""
    try:
        if os.environ.get("NUMBA_DISABLE_JIT") == "1" or programmes != default_programmes():
            return None
    except (KeyError, OSError, ValueError):
        return None  # no list
    if not is_cold() or len(os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity")
                            else range(os.cpu_count() or 1)) < 2:
        return None
    return subprocess.Popen([sys.executable, "-m", "model.precompile"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def stop(process: subprocess.Popen | None) -> None:
    """End the second process once this one has every kernel: what it still
    compiles is no longer needed (numba writes a cache file under a
    temporary name and renames it, so none is left half-written)."""
    if process is None:
        return
    if process.poll() is None:
        process.kill()
    process.wait()


def default_programmes() -> tuple[str, ...]:
    text = resources.files("model").joinpath(LIST).read_text(encoding="utf-8")
    return tuple(json.loads(text)["programmes"])


def compile_backwards() -> None:
    """Compile the listed signatures from the last to the first (what numba's
    cache holds already is loaded instead, so the work stops being repeated
    once the other process has got there)."""
    for name, args in reversed(listed()):
        dispatcher(name).compile(tuple(numba_type(a) for a in args))


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


def survey() -> dict:
    """What a default run compiles, in this process (whose numba cache must
    be empty): its programmes, and the kernels it calls from Python whose
    functions (theirs and those they call) all compile with one signature in
    the run, in the order they finish compiling (those of the small year of
    :func:`model.runs.prepare_kernels` first, then those only the whole run
    reaches, which the second process therefore compiles first)."""
    from numba.core import event

    from model import runs
    from model.scenario import load_scenario

    known = _known()
    depth: list[int] = [0]
    top: list[tuple] = []

    class Listener(event.Listener):
        def on_start(self, ev):
            depth[0] += 1

        def on_end(self, ev):
            depth[0] -= 1
            if depth[0] == 0 and id(ev.data["dispatcher"]) in known:
                top.append((ev.data["dispatcher"], tuple(ev.data["args"])))

    scenario = load_scenario()
    registry = runs.registry_for(scenario)
    with event.install_listener("numba:compile", Listener()):
        runs.simulate_first_year(scenario, registry)  # as prepare_kernels, then the run
        runs.run_seed(scenario, 0, registry)
    trees = [(kernel, args, _calls(kernel, args)) for kernel, args in top]
    signatures: dict[int, set] = {}
    for _, _, tree in trees:
        for function, args in tree:
            signatures.setdefault(id(function), set()).add(args)
    kernels = [[known[id(kernel)], [type_text(t) for t in args]] for kernel, args, tree in trees
               if all(len(signatures[id(function)]) == 1 for function, _ in tree)]
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
    if argv:
        print("usage: python -m model.precompile [--write]", file=sys.stderr)
        return 2
    compile_backwards()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
