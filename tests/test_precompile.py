"""The list of kernels a second process compiles on the first run after
install: what it lists is what a default run compiles, and the second
process starts only when it can help."""

import json
import os
import subprocess
import sys

import pytest

from model import precompile, runs
from model.scenario import load_scenario


def test_every_listed_signature_is_one_a_default_run_compiles():
    scenario = load_scenario()
    registry = runs.registry_for(scenario)
    runs.simulate_first_year(scenario, registry)
    runs.run_seed(scenario, 0, registry)
    assert tuple(sorted(scenario.programmes)) == precompile.default_programmes()
    for name, args, _ in precompile.listed():
        wanted = tuple(precompile.numba_type(a) for a in args)
        assert wanted in precompile.dispatcher(name).signatures, (name, args)


def test_every_module_with_kernels_is_surveyed():
    """A module of the engine that compiles kernels is in the survey's list,
    or the first run after install compiles its kernels in the foreground."""
    import importlib
    import pathlib

    import model

    root = pathlib.Path(model.__file__).parent
    with_kernels = set()
    for path in sorted((root / "engine").glob("*.py")) + [root / "random.py"]:
        name = ".".join(path.relative_to(root.parent).with_suffix("").parts)
        module = importlib.import_module(name)
        for value in vars(module).values():
            kernel = getattr(value, "kernel", value)
            if hasattr(kernel, "py_func") and kernel.py_func.__module__ == name:
                with_kernels.add(name)
    assert "model.engine.tally" in with_kernels
    assert with_kernels <= set(precompile.MODULES)


def test_a_function_numba_does_not_cache_leaves_its_callers_shared():
    """hash_id compiles with int32 household ids and with int64 indices in
    a default run; numba does not cache it, so two processes cannot mix up
    its cache entries, and the kernels calling it stay shared. A function
    cached under one signature (household_line, with float32 lines only)
    keeps them shared too; one cached under two signatures (_set_at before
    its value took the array's type) would keep them from the second
    process."""
    from model.engine.bookkeeping import _set_at
    from model.engine.rules import household_line, verify_household
    from model.random import hash_id

    assert not precompile._cached(hash_id) and precompile._cached(household_line)
    assert precompile._cached(verify_household) and precompile._cached(_set_at.kernel)
    shared = {name: flag for name, _, flag in precompile.listed()}
    for kernel in ("model.engine.tally:tally_chunks", "model.engine.attribution:_attribute_piece",
                   "model.engine.kernels:income_and_verify", "model.engine.bookkeeping:_set_at"):
        assert shared[kernel], kernel


def test_the_one_pass_steps_compile_their_county_loops_in_the_kernel():
    """The one-pass steps' county loops and the enrolment rule, called with
    constant flags (one loop compiled for each case), are inlined into each
    kernel's code before it is typed: never compiled on their own, so they
    do not keep the kernels from the first run's second process."""
    from model.engine import bookkeeping, one_pass

    shared = {name: flag for name, _, flag in precompile.listed()}
    for helper in (one_pass._income_county, one_pass._grant_county, one_pass._floor_county,
                   bookkeeping.enrolment_now):
        assert helper.targetoptions.get("inline") == "always", helper.py_func.__name__
    for step in ("income", "grant", "floor"):
        assert shared[f"model.engine.one_pass:_{step}_counties"], step


def test_the_two_processes_meet_among_short_kernels(tmp_path, monkeypatch):
    """This process takes the shared kernels from the first, the second
    from the last: the run's order cut where the halves take as long to
    compile (as the list's seconds say), each half longest first, so the
    kernels where the two meet are short; a process stops at the first
    kernel the other has claimed."""
    seconds = precompile.compile_seconds()
    order = precompile.shared_order()
    positions = [position for position, _ in order]
    shared = [k for k, (_, _, flag) in enumerate(precompile.listed()) if flag]
    assert sorted(positions) == shared and all(seconds[k] > 0 for k in shared)
    taken = [seconds[position] for position in positions]
    # each half a run of the run's order: descending, then ascending (the
    # second process takes it backwards)
    cut = max(k for k in range(1, len(taken)) if sorted(positions[:k]) == shared[:k]
              and taken[:k] == sorted(taken[:k], reverse=True)
              and taken[k:] == sorted(taken[k:]))
    first, last = taken[:cut], taken[cut:]
    assert abs(sum(first) - sum(last)) <= max(taken)
    assert max(first[-1], last[0]) < max(taken) / 4

    compiled = []

    class Recording:
        def __init__(self, name):
            self.name = name

        def compile(self, args):
            compiled.append(self.name)

    monkeypatch.setattr(precompile, "dispatcher", Recording)
    (tmp_path / str(positions[cut + 2])).touch()  # claimed by the other process
    precompile._compile_claimed(order, tmp_path)
    assert compiled == [entry[0] for _, entry in order[:cut + 2]]


def test_types_read_back_as_written():
    for _, args, _ in precompile.listed():
        for text in args:
            assert precompile.type_text(precompile.numba_type(text)) == text
    with pytest.raises(TypeError, match="not a numeric type"):
        precompile.numba_type("Dispatcher[:]")


def _in_process(code: str, cache: str | None = None) -> str:
    env = dict(os.environ)
    if cache is not None:
        env["NUMBA_CACHE_DIR"] = cache
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True).stdout.strip()


def test_the_second_process_starts_only_on_an_empty_cache_and_the_default_programmes(tmp_path):
    code = ("from model import precompile\n"
            "print(precompile.is_cold(), precompile.compile_first_run(('industry',)))\n")
    assert _in_process(code, str(tmp_path)) == "True False"
    code = ("from model import precompile\n"
            "print(precompile.compile_first_run(precompile.default_programmes()))\n")
    assert _in_process(code) == "False"  # the test session's cache holds the kernels


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a fork is used on Linux only")
def test_the_forked_second_process_writes_nothing(tmp_path):
    """The fork's output, through Python's streams or the descriptors, goes
    to the null device, as the new interpreter's did."""
    code = ("import os, sys\n"
            "from model import precompile\n"
            "parent = os.getpid()\n"
            "def claimed(kernels, claims):\n"
            "    if os.getpid() != parent:\n"
            "        print('child out'); print('child err', file=sys.stderr)\n"
            "        os.write(1, b'child fd 1'); os.write(2, b'child fd 2')\n"
            "precompile._compile_claimed = claimed\n"
            "print(precompile.compile_first_run(precompile.default_programmes()))\n")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "True"
    assert "child" not in done.stdout + done.stderr


def test_a_second_process_started_ahead_is_the_first_runs_or_ends_with_its_block(tmp_path):
    """compiling_ahead starts the second process on an empty cache; the
    block's compile_first_run compiles this process's share and waits for
    that one (it starts no other); a block without one ends it (killed)."""
    code = ("import os, time\n"
            "from model import precompile\n"
            "parent, calls, slow = os.getpid(), [], [False]\n"
            "def claimed(kernels, claims):\n"
            "    calls.append(os.getpid())\n"
            "    if os.getpid() != parent and slow[0]:\n"
            "        time.sleep(60)\n"
            "precompile._compile_claimed = claimed\n"
            "programmes = precompile.default_programmes()\n"
            "with precompile.compiling_ahead(programmes):\n"
            "    started = precompile._ahead\n"
            "    print(precompile.compile_first_run(programmes), started.second.returncode,\n"
            "          calls == [parent], precompile._ahead is None)\n"
            "slow[0] = True\n"
            "begun = time.monotonic()\n"
            "with precompile.compiling_ahead(programmes):\n"
            "    left = precompile._ahead\n"
            "print(left.second.poll() not in (None, 0), os.path.exists(left.folder.name),\n"
            "      time.monotonic() - begun < 30)\n"
            "with precompile.compiling_ahead(('industry',)):\n"
            "    print(precompile._ahead)\n")
    assert _in_process(code, str(tmp_path)).splitlines() == [
        "True 0 True True", "True False True", "None"]


@pytest.mark.slow
@pytest.mark.parametrize("platform", ["linux", "other"])
def test_the_two_processes_compile_every_listed_kernel_between_them(tmp_path, platform):
    """On an empty cache, this process and the second (a fork on Linux, a
    new interpreter elsewhere) leave every listed kernel in numba's cache,
    and the second compiled some of them: never compiled in this process."""
    if platform == "linux" and not sys.platform.startswith("linux"):
        pytest.skip("a fork is used on Linux only")
    first = ("from model import precompile\n"
             + ("precompile.can_fork = lambda: False\n" if platform == "other" else "")
             + "assert precompile.compile_first_run(precompile.default_programmes())\n"
             "here = sum(tuple(precompile.numba_type(a) for a in args)\n"
             "           in precompile.dispatcher(name).overloads\n"
             "           for name, args, _ in precompile.listed())\n"
             "print(len(precompile.listed()), here)\n")
    total, here = map(int, _in_process(first, str(tmp_path)).split())
    assert 0 < here < total
    then = ("from model import precompile\n"
            "loaded = 0\n"
            "for name, args, _ in precompile.listed():\n"
            "    kernel = precompile.dispatcher(name)\n"
            "    kernel.compile(tuple(precompile.numba_type(a) for a in args))\n"
            "    loaded += sum(kernel.stats.cache_hits.values()) > 0\n"
            "print(loaded)\n")
    assert int(_in_process(then, str(tmp_path))) == total


@pytest.mark.slow
def test_the_list_is_what_a_default_run_compiles(tmp_path):
    """``python -m model.precompile --write`` would write the same list."""
    found = _in_process("from model import precompile; import json; "
                        "print(json.dumps(precompile.survey()))", str(tmp_path))
    shipped = json.loads((precompile.Path(precompile.__file__).with_name(precompile.LIST))
                         .read_text(encoding="utf-8"))
    surveyed = json.loads(found.splitlines()[-1])
    # the seconds each took to compile differ from one survey to the next
    assert all(entry[3] > 0 for entry in surveyed["kernels"])
    for listing in (surveyed, shipped):
        listing["kernels"] = [entry[:3] for entry in listing["kernels"]]
    assert surveyed == shipped, (
        "the kernels of a default run changed: python -m model.precompile --write")
