"""``povsim bench --startup``: what a user waits for at the command line.

Times, each in a fresh process: ``povsim --help``; the first ``povsim run``
after install (the registry and numba caches empty: a new ``POVSIM_CACHE``
folder, so the user's caches are left alone); and a warm ``povsim run``
(the same caches, now filled). CPU is the child's user and system time,
the figure to compare on a shared machine; wall time is printed beside it. The run is the default
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


def timed(argv: list[str], env: dict[str, str], folder: Path) -> tuple[float, float]:
    """(CPU s, wall s) of a child process running ``argv`` in ``folder``
    (not a checkout: ``python -m`` puts its working folder first on the
    path, so started in a checkout it would run that checkout's package
    whatever ``PYTHONPATH`` says)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False,
                          cwd=folder)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def _setup(root: Path, work: Path) -> tuple[dict[str, str], list[str]]:
    """Environment (the package of ``root``, empty registry and numba
    caches, as on a fresh install) and the run command of one checkout."""
    cache = Path(tempfile.mkdtemp(prefix="povsim-cache-", dir=work))
    env = dict(os.environ, PYTHONPATH=str(root), POVSIM_CACHE=str(cache))
    env.pop("NUMBA_CACHE_DIR", None)  # numba's cache then goes into the new folder
    return env, [sys.executable, "-m", "model"]


def measure(roots: dict[str, Path], work: Path, repeats: int) -> dict[str, dict]:
    """Figures of each checkout: help, cold run, warm run (median of
    ``repeats``), each (CPU s, wall s). The warm runs of the checkouts take
    turns, so that a change of load falls on all of them alike."""
    setups = {label: _setup(root, work) for label, root in roots.items()}
    figures: dict[str, dict] = {label: {} for label in roots}
    warm: dict[str, list] = {label: [] for label in roots}
    for label, (env, python) in setups.items():
        figures[label]["help"] = timed([*python, "--help"], env, work)
        figures[label]["cold run"] = timed(_run_command(python, work, f"{label}-cold"), env, work)
    for k in range(repeats):
        for label, (env, python) in setups.items():
            warm[label].append(timed(_run_command(python, work, f"{label}-warm{k}"), env, work))
    for label, times in warm.items():
        figures[label]["warm run"] = (statistics.median(w[0] for w in times),
                                      statistics.median(w[1] for w in times))
    return figures


def _run_command(python: list[str], work: Path, name: str) -> list[str]:
    return [*python, "run", "default", "--seeds", "1", "--workers", "1", "--out",
            str(work / name)]


def main(against: str | None = None, repeats: int = 3) -> int:
    roots = {"this": HERE}
    if against:
        other = Path(against).resolve()
        if not (other / "model" / "__init__.py").is_file():
            print(f"povsim: error: --against {against}: no model package in that folder",
                  file=sys.stderr)
            return 2
        roots["against"] = other
    print(f"load average {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores); cold: empty registry "
          f"and numba caches; warm: median of {repeats}")
    with tempfile.TemporaryDirectory(prefix="povsim-startup-") as tmp:
        figures = measure(roots, Path(tmp), repeats)
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
