"""The registry benchmark tool: a small spec at a small scale, and its
arguments refused with a message rather than a traceback."""

import subprocess
import sys

from model.tools import registry_bench


def test_a_small_spec_at_half_scale_is_built_timed_and_compared(capsys):
    # the loops are loaded on a small nation first: ruyuan at the warm-up's
    # scale would hold too few households to draw
    assert registry_bench.main("ruyuan", 0.5) == 0
    out = capsys.readouterr().out
    assert "ruyuan at scale 0.5" in out and "NO" not in out.split()


def _run(*args):
    return subprocess.run([sys.executable, "-m", "model.tools.registry_bench", *args],
                          capture_output=True, text=True, check=False)


def test_an_unknown_spec_and_a_scale_out_of_range_are_refused():
    done = _run("nope")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "registry spec 'nope' not found" in done.stderr and "ruyuan" in done.stderr
    done = _run("nation", "2")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "argument scale: 2 must be above 0 and at most 1" in done.stderr
