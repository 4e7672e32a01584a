"""``povsim bench --startup``: what a user waits for at the command line.

Times, each in a fresh process: ``povsim --help``; the first ``povsim run``
after install (the numba cache empty: a new ``NUMBA_CACHE_DIR``, so the
user's cache is left alone); and a warm ``povsim run`` (the same cache, now
filled). CPU is the child's user and system time, the figure to compare on a
shared machine; wall time is printed beside it. The run is the default
scenario, one seed, written to a temporary folder.

``--against DIR`` then runs the same commands with the package of another
checkout (``DIR/model``, for instance the main branch) and prints the ratios:
before and after in the same sitting. The load average is printed with the
figures.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]  # the checkout holding this package


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(CPU s, wall s) of a child process running ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def measure(root: Path, work: Path, repeats: int) -> dict[str, tuple[float, float]]:
    """Figures of the package in ``root``: help, cold run, warm run (median
    of ``repeats``), each (CPU s, wall s)."""
    cache = Path(tempfile.mkdtemp(prefix="numba-cache-", dir=work))
    env = dict(os.environ, PYTHONPATH=str(root), NUMBA_CACHE_DIR=str(cache))
    python = [sys.executable, "-m", "model"]
    run = [*python, "run", "default", "--seeds", "1", "--workers", "1"]
    out = {"help": _timed([*python, "--help"], env)}
    out["cold run"] = _timed([*run, "--out", str(work / "cold")], env)
    warm = [_timed([*run, "--out", str(work / f"warm{k}")], env) for k in range(repeats)]
    out["warm run"] = (statistics.median(w[0] for w in warm),
                       statistics.median(w[1] for w in warm))
    return out


def main(against: str | None = None, repeats: int = 3) -> int:
    roots = [("this", HERE)]
    if against:
        other = Path(against).resolve()
        if not (other / "model" / "__init__.py").is_file():
            print(f"povsim: error: --against {against}: no model package in that folder",
                  file=sys.stderr)
            return 2
        roots.append(("against", other))
    print(f"load average {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores); cold: empty numba "
          f"cache; warm: median of {repeats}")
    with tempfile.TemporaryDirectory(prefix="povsim-startup-") as tmp:
        figures = {}
        for label, root in roots:
            work = Path(tmp) / label
            work.mkdir()
            figures[label] = measure(root, work, repeats)
    header = f"{'':<10}{'CPU s':>9}{'wall s':>9}"
    if against:
        header += f"{'against CPU':>13}{'wall':>9}{'CPU ratio':>11}"
    print(header)
    for what, (cpu, wall) in figures["this"].items():
        row = f"{what:<10}{cpu:>9.2f}{wall:>9.2f}"
        if against:
            a_cpu, a_wall = figures["against"][what]
            row += f"{a_cpu:>13.2f}{a_wall:>9.2f}{a_cpu / cpu:>10.1f}x"
        print(row)
    print(f"cold / warm CPU: {figures['this']['cold run'][0] / figures['this']['warm run'][0]:.1f}x"
          + (f" (against: {figures['against']['cold run'][0] / figures['against']['warm run'][0]:.1f}x)"
             if against else ""))
    return 0
