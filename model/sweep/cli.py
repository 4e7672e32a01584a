"""``povsim sweep``: run a sweep file (or a quick sweep) into a store, then
analyse it.

``povsim sweep FILE [--workers N] [--scheduler ADDRESS] [--resume] [--out DIR]``
runs every task of the sweep not yet in ``DIR/sweep.zarr`` and writes
``sweep.md``, ``indices.csv`` and the charts into ``DIR``;
``povsim sweep SCENARIO --vary NAME=LOW:HIGH --points N --seeds S`` is a
quick one-scenario sweep; ``povsim sweep --analyse DIR`` redoes the analysis
of a store without running anything. The exit code is 1 when a task failed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from model.errors import PovsimError

DESIGNS = ("grid", "lhs", "sobol", "morris")


def add_parser(sub, positive, share) -> None:
    """Add ``povsim sweep`` to the subcommands ``sub``."""
    p = sub.add_parser(
        "sweep", help="run a parameter sweep on Dask into a resumable store and analyse it",
        description="Run one task per (scenario, point, seed) of a sweep file, or of a quick "
                    "sweep given by a scenario and --vary, on a local Dask cluster or an "
                    "existing one; each finished task is written to DIR/sweep.zarr at once, "
                    "and rerunning the same command resumes. Writes sweep.md, indices.csv "
                    "and charts to DIR.")
    p.add_argument("sweep", nargs="?", help="a sweep file (.toml), or a scenario name or file "
                                            "with --vary")
    p.add_argument("--vary", action="append", default=[], metavar="NAME=LOW:HIGH",
                   help="quick sweep: a factor, NAME=LOW:HIGH, NAME=LOW:HIGH:log or "
                        "NAME=A,B,C (repeat for several)")
    p.add_argument("--points", type=positive, default=8,
                   help="quick sweep: levels per factor (grid), points (lhs), base points "
                        "(sobol) or trajectories (morris); default 8")
    p.add_argument("--seeds", type=positive, default=1,
                   help="quick sweep: seeds per point (default 1)")
    p.add_argument("--seed", type=int, default=0, help="quick sweep: first seed (default 0)")
    p.add_argument("--design", choices=DESIGNS, default="grid",
                   help="quick sweep: the design (default grid)")
    p.add_argument("--outcome", action="append", metavar="NAME",
                   help="quick sweep: an outcome to keep (repeat; default zero_year, "
                        "registered_end, cost_per_exit, met:zero_by:2019, met:zero_by:2020, "
                        "county_exits:2019)")
    p.add_argument("--scale", type=share, help="share of households simulated, overriding "
                                                "the sweep's and the scenarios'")
    p.add_argument("--out", type=Path, help="output folder (default outputs/sweep-<name>)")
    p.add_argument("--workers", type=positive,
                   help="worker processes of the local cluster (default: one per core; 1 runs "
                        "in this process)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="use the running dask scheduler at ADDRESS (tcp://host:port) instead "
                        "of a local cluster")
    p.add_argument("--resume", action="store_true",
                   help="continue the store in --out (an error when there is none); rerunning "
                        "the same command on the same --out resumes as well")
    p.add_argument("--analyse", type=Path, metavar="DIR",
                   help="only redo the analysis of the store in DIR")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _sweep_of(args):
    from dataclasses import replace

    from model.sweep.spec import load_sweep, quick_sweep

    if args.vary:
        sweep = quick_sweep(args.sweep, args.vary, args.points, args.seeds, args.seed,
                            args.design, args.outcome, args.scale)
    elif args.sweep and Path(args.sweep).suffix == ".toml" and Path(args.sweep).is_file() \
            and _is_sweep_file(Path(args.sweep)):
        sweep = load_sweep(args.sweep)
        if args.scale is not None:
            sweep = replace(sweep, text=sweep.text + f"\n# --scale {args.scale!r}\n",
                            scenarios=tuple(replace(s, scale=args.scale)
                                            for s in sweep.scenarios))
    elif args.sweep and Path(args.sweep).suffix == ".toml" and not Path(args.sweep).is_file():
        raise PovsimError(f"sweep file '{args.sweep}' not found")
    else:
        raise PovsimError(f"sweep '{args.sweep}': a scenario needs at least one --vary "
                          "NAME=LOW:HIGH (or give a sweep file)")
    return sweep


def _is_sweep_file(path: Path) -> bool:
    """A sweep file has [factors] (a scenario file has none)."""
    import tomllib
    try:
        return "factors" in tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return True   # let the sweep reader report what is wrong


def main(args) -> int:
    """Run ``povsim sweep``; the exit code."""
    from model.sweep.design import sample
    from model.sweep.execute import execute
    from model.sweep.store import SweepStore

    start = time.perf_counter()
    if args.analyse is not None:
        if args.sweep or args.vary:
            raise PovsimError("--analyse DIR takes no sweep file or --vary")
        store = SweepStore.open(args.analyse)
        return _report(store, args.analyse, start, None)
    if not args.sweep:
        raise PovsimError("povsim sweep: give a sweep file, a scenario with --vary, or "
                          "--analyse DIR")
    sweep = _sweep_of(args)
    from model.atomic import check_output_folder

    out = check_output_folder(args.out or Path("outputs") / f"sweep-{sweep.name}")
    x = sample(sweep)
    store, existed = SweepStore.for_sweep(out, sweep, x, args.resume)
    n_total = len(sweep.scenarios) * len(x) * len(sweep.seeds)
    print(f"sweep {sweep.name}: {sweep.design}, {len(x)} points x {len(sweep.seeds)} seed(s) x "
          f"{len(sweep.scenarios)} scenario(s) = {n_total} tasks"
          + (f"; resuming {out / 'sweep.zarr'}" if existed else f"; store {out / 'sweep.zarr'}"),
          flush=True)
    summary = execute(sweep, store, x, args.workers, args.scheduler,
                      progress=not args.no_progress)
    print(f"ran {summary.ran} tasks ({summary.failed} failed), skipped {summary.skipped} already "
          f"done, in {summary.seconds:.1f} s ({summary.rate:.2f} tasks/s)", flush=True)
    return _report(store, out, start, summary)


def _report(store, out: Path, start: float, summary) -> int:
    from model.sweep import analyse

    a, files = analyse.write(store, out)
    print(analyse.markdown(a, files[2:]))
    print(f"wrote {', '.join(files)} to {out} ({time.perf_counter() - start:.1f} s)")
    failed = len(a.failures)
    if failed:
        print(f"povsim: {failed} task(s) failed (listed in {out / 'sweep.md'})", file=sys.stderr)
    return 1 if failed else 0
