"""The allocator setting (model/allocator.py): in force once per process on
glibc, off when the environment asks, and without effect on results (the
behaviour digest runs with it on)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from model.allocator import glibc_mallopt

CODE = "from model.allocator import keep_freed_arrays as k; print(k(), k())"
# numpy's huge-page advice after keep_freed_arrays (setting it again returns it)
ADVICE = ("from model.allocator import keep_freed_arrays as k, _numpy_huge_page_advice as a; "
          "k(); print(a(True))")


def _run(code=CODE, **env):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**env, "PYTHONPATH": ":".join(sys.path)}, check=True)
    return out.stdout.split()


@pytest.mark.skipif(glibc_mallopt() is None, reason="glibc only")
def test_in_force_once_per_process_on_glibc():
    assert _run() == ["True", "True"]


def test_the_environment_turns_it_off():
    assert _run(POVSIM_KEEP_FREED="0") == ["False", "False"]


@pytest.mark.skipif(glibc_mallopt() is None, reason="glibc only")
def test_numpy_huge_page_advice_is_off_unless_numpy_is_told():
    assert _run(ADVICE) == ["False"]
    assert _run(ADVICE, NUMPY_MADVISE_HUGEPAGE="1") == ["True"]
    assert _run(ADVICE, POVSIM_KEEP_FREED="0") == ["True"]  # numpy's default here (Linux)


# faults while a 256 MB array is written, after reserving 512 MB of heap or not
FAULTS = """
import resource, numpy as np
from model.allocator import keep_freed_arrays, reserve_heap
keep_freed_arrays()
got = reserve_heap({reserve})
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
np.empty(256 << 20, np.uint8).fill(1)
print(got, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
PAGES = (256 << 20) // 4096


@pytest.mark.skipif(glibc_mallopt() is None, reason="glibc only")
def test_a_reserved_heap_is_reused_without_page_faults():
    reserved, faults = map(int, _run(FAULTS.format(reserve=512 << 20)))
    if reserved == 0:
        pytest.skip("the kernel does not back memory in bulk (MADV_POPULATE_WRITE)")
    assert reserved == 512 << 20
    assert faults < PAGES // 4
    # the same array on a heap not reserved faults in page by page
    reserved, faults = map(int, _run(FAULTS.format(reserve=0)))
    assert reserved == 0 and faults > PAGES // 2


def test_nothing_is_reserved_when_the_environment_says_so_or_for_a_small_heap():
    assert _run(FAULTS.format(reserve=512 << 20), POVSIM_KEEP_FREED="0")[0] == "0"
    assert _run(FAULTS.format(reserve=1 << 20))[0] == "0"


def test_nothing_is_reserved_outside_the_main_thread():
    code = ("import threading; from model.allocator import reserve_heap; out = []; "
            "t = threading.Thread(target=lambda: out.append(reserve_heap(512 << 20))); "
            "t.start(); t.join(); print(out[0])")
    assert _run(code) == ["0"]
