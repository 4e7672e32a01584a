"""Command line: ``povsim run``, ``povsim compare``, ``povsim sweep``, ``povsim scenarios``,
``povsim registry``, ``povsim bench``, ``povsim calibrate`` and ``povsim backtest``
(also ``python -m model``).

Bad arguments and bad input files exit with code 2 and one clear line per
problem, each starting ``povsim: error:`` (no traceback).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import sys
import time
from contextlib import ExitStack, contextmanager, nullcontext
from decimal import Decimal, InvalidOperation
from pathlib import Path

from model.errors import PovsimError, brief

# Seeds are stored exactly in every output (NetCDF, CSV, JSON) up to 2**53 - 1.
MAX_SEED = 2**53 - 1
MAX_SEEDS = 10000                # as run.seeds in a scenario (model.scenario.MAX_SEEDS)
# bench holds about 250 bytes per household (peak resident memory of 1e5 and 1e6
# households), so the limit needs about 12 GB
MAX_BENCH_HOUSEHOLDS = 50_000_000
DRAWING = ("run", "compare", "calibrate", "backtest")
# what povsim run's charts import: loaded in a second process during the run
CHART_MODULES = ("model.results", "model.analysis.charts", "model.analysis.run_chart")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit code 2
        raise PovsimError(f"{self.prog}: {message} (see '{self.prog} --help')")


def whole_number(text: str, minimum: int | None = None) -> int:
    """An argparse value: a whole number (``1000000`` or ``1e6``), at least
    ``minimum`` when given."""
    try:
        value = int(text)
    except ValueError:
        try:
            exact = Decimal(text.strip())
        except InvalidOperation:
            exact = None
        if exact is None or not exact.is_finite() or exact != exact.to_integral_value():
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
        value = int(exact)
    if minimum is not None and value < minimum:
        raise argparse.ArgumentTypeError(f"{value} must be at least {minimum}")
    return value


def positive(text: str) -> int:
    """An argparse value: a whole number of at least 1 (a count)."""
    return whole_number(text, minimum=1)


def _seed(text: str) -> int:
    value = whole_number(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{value} must be between 0 and 2**53 - 1 "
                                         f"({MAX_SEED}), the largest seed stored exactly")
    return value


def _seed_count(text: str) -> int:
    value = whole_number(text, minimum=1)
    if value > MAX_SEEDS:
        raise argparse.ArgumentTypeError(f"{value} seeds: at most {MAX_SEEDS} in one run (the "
                                         "results of every seed are held in memory); split "
                                         "the seeds over several runs with --seed")
    return value


def _bench_size(text: str) -> int:
    value = whole_number(text, minimum=1)
    if value > MAX_BENCH_HOUSEHOLDS:
        raise argparse.ArgumentTypeError(f"{value:,} households: at most "
                                         f"{MAX_BENCH_HOUSEHOLDS:,} (about 250 bytes of "
                                         "memory each)")
    return value


@contextmanager
def tool_errors(parser: argparse.ArgumentParser):
    """The work of a tool with its own parser (``python -m model.tools...``):
    a PovsimError in the block ends the tool as argparse ends it on a bad
    argument (its name and the message on one line, exit status 2)."""
    try:
        yield
    except PovsimError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")


def _out(text: str) -> Path:
    """An argparse value: an output path, not empty (an empty path is the
    working folder, which no command should fill by accident)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty path: expected a folder or file name")
    return Path(text)


def share(text: str) -> float:
    """An argparse value: a share above 0 and at most 1 (a scale)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{value:g} must be above 0 and at most 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    from model import __version__

    parser = _Parser(prog="povsim", description="Household microsimulation of targeted poverty "
                                                "alleviation (精准扶贫).")
    parser.add_argument("--version", action="version", version=f"povsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="run a scenario and write results.nc, summary.csv and a chart")
    run.add_argument("scenario", nargs="?", help="scenario name (see 'povsim scenarios') or "
                                                 "file (default: the embedded Ruyuan scenario)")
    run.add_argument("--seed", type=_seed, default=0, help="first seed (default 0)")
    run.add_argument("--seeds", type=_seed_count, help="number of seeds, from --seed on "
                                                       "(default: the scenario's)")
    run.add_argument("--out", type=_out, help="output folder (default outputs/<name>, the "
                                              "scenario's own name)")
    run.add_argument("--registry", help="registry to run instead of the scenario's: a spec name, "
                                        "a spec .toml or a registry file (.nc, .csv, .parquet)")
    compare = sub.add_parser(
        "compare", help="run scenarios with the same seeds and compare them with their targets",
        description="Run every scenario with the same seeds (common random numbers) and report "
                    "when registered poor reach zero, the probability of meeting each target, "
                    "the gap to the plan, exits by batch, returns, cost, and paired differences "
                    "against the first scenario. Each finished run is written at once to "
                    "OUT/compare.zarr, so an interrupted compare resumes where it stopped; "
                    "writes compare.nc, compare.csv, summary.md and charts (PNG and SVG) "
                    "from it.")
    compare.add_argument("scenarios", nargs="*", metavar="scenario",
                         help="scenario names or files (default: the embedded Ruyuan scenario); "
                              "the first is the reference for differences")
    compare.add_argument("--seeds", type=_seed_count, help="number of seeds, from --seed on "
                                                         "(default: the largest of the "
                                                         "scenarios')")
    compare.add_argument("--seed", type=_seed, default=0, help="first seed (default 0)")
    compare.add_argument("--out", type=_out, help="output folder (default outputs/compare-<names>)")
    compare.add_argument("--resume", action="store_true",
                         help="continue the runs stored in --out (compare.zarr; an error when "
                              "there are none); rerunning the same command on the same --out "
                              "resumes as well")
    for p in (run, compare):
        p.add_argument("--workers", type=positive,
                       help="worker processes (default: one per core, at most one per run; "
                            "1 runs in this process)")
        p.add_argument("--lang", choices=("en", "zh"), default="en",
                       help="language of the charts (and of compare's summary.md): en "
                            "(default) or zh")
        p.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on the running dask scheduler at ADDRESS (tcp://host:port) "
                            "instead of a local cluster")
        p.add_argument("--scale", type=share,
                       help="share of households simulated, overriding the scenario's "
                            "(absolute targets are scaled alike)")
        p.add_argument("--posterior", nargs="?", const=True, metavar="FIT",
                       help="seed i runs with accepted parameter vector i mod n of the fit the "
                            "scenario extends, or of fit FIT (a name in calibration/fits or a "
                            "file)")
    from model.calibration.cli import add_parsers
    add_parsers(sub, positive, share)
    from model.sweep.cli import add_parser as add_sweep
    add_sweep(sub, positive, share)
    sub.add_parser("scenarios", help="list the scenarios that can be named")
    rep = sub.add_parser("report", help="one self-contained HTML report of an output folder "
                                        "(run, compare, sweep or backtest)")
    rep.add_argument("folder", type=Path, help="the output folder")
    rep.add_argument("--lang", choices=("en", "zh"), default="en",
                     help="language of the report and its charts (default en)")
    rep.add_argument("--out", type=Path, help="HTML file (default FOLDER/report.html, "
                                              "FOLDER/report-zh.html in Chinese), or PDF file "
                                              "with --pdf (FOLDER/report.pdf, report-zh.pdf)")
    rep.add_argument("--pdf", action="store_true",
                     help="write the report as an A4 PDF instead (needs the extra 'pdf': "
                          "pip install 'povsim[pdf]')")
    registry = sub.add_parser("registry", help="check, import or build registries")
    reg_sub = registry.add_subparsers(dest="registry_command", required=True,
                                      parser_class=_Parser)
    validate = reg_sub.add_parser("validate", help="check a registry file and report every "
                                                   "problem (file, row, column, value)")
    validate.add_argument("file", type=Path, help="a .csv or .parquet household table (with "
                                                  "its .counties table beside it) or a .nc")
    validate.add_argument("--limit", type=positive, default=20,
                          help="stop after this many problems (default 20)")
    build = reg_sub.add_parser("build", help="build a synthetic registry from a spec")
    build.add_argument("spec", help="a built-in spec name or a spec .toml")
    build.add_argument("--out", type=_out, required=True,
                       help="registry file to write: .nc, or .csv / .parquet (with .counties "
                            "and .villages tables beside it)")
    bench = sub.add_parser("bench", help="measure the income kernel against numpy and a whole year")
    bench.add_argument("--sizes", type=_bench_size, nargs="+", default=[10**6, 10**7],
                       help="household counts (default 1e6 1e7)")
    bench.add_argument("--repeats", type=positive, default=5, help="timed runs per figure")
    bench.add_argument("--national", type=share, nargs="*", default=[0.01], metavar="SCALE",
                       help="also run the national scenario 2015-2020 at these scales, with "
                            "delivery on and off (default 0.01; none: skip)")
    bench.add_argument("--check", action="store_true",
                       help="CI check: fail if a whole year takes over twice the stored "
                            "kernel-times (small size)")
    bench.add_argument("--save-baseline", action="store_true",
                       help="store this machine's year/kernel ratio as the --check baseline")
    bench.add_argument("--startup", action="store_true",
                       help="time povsim --help, the first povsim run after install (empty "
                            "registry and numba caches) and a warm run, each in a fresh "
                            "process")
    bench.add_argument("--phases", action="store_true",
                       help="time each phase of a simulated year (and each programme's "
                            "enrolment and step) at --sizes, over --repeats years, and of "
                            "the national scenario's years at the --national scales")
    bench.add_argument("--against", metavar="DIR",
                       help="with --startup: also time the package of the checkout in DIR "
                            "and print the ratios")
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        check_environment(args.command)
        if args.command == "run":
            return _run(args)
        if args.command == "registry":
            return _registry(args)
        if args.command == "compare":
            return _compare(args)
        if args.command == "scenarios":
            return _scenarios()
        if args.command == "sweep":
            from model.sweep.cli import main as sweep_main
            return sweep_main(args)
        if args.command == "report":
            from model.analysis import html_report, pdf_report
            writer = pdf_report if args.pdf else html_report
            print(f"wrote {writer.write(args.folder, args.out, args.lang)}")
            return 0
        if args.command in ("calibrate", "backtest"):
            from model.calibration.cli import main as calibration_main
            return calibration_main(args)
        if args.against and not args.startup:
            print("povsim: error: --against compares start-up times: it needs --startup",
                  file=sys.stderr)
            return 2
        if args.startup:
            from model.tools.startup_bench import main as startup_main
            return startup_main(args.against, args.repeats)
        if args.phases:
            from model.tools.phases import main as phases_main
            return phases_main(args.sizes, args.repeats, args.national)
        from model.tools.bench import main as bench_main
        return bench_main(args.sizes, args.repeats, args.national, args.check,
                          args.save_baseline)
    except PovsimError as err:
        for line in str(err).splitlines() or [""]:
            print(f"povsim: error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("povsim: interrupted", file=sys.stderr)
        return 130


def check_environment(command: str) -> None:
    """Environment variables that would fail deep inside a run: checked first."""
    threads = os.environ.get("NUMBA_NUM_THREADS", "").strip()
    if threads and (not threads.isdigit() or int(threads) < 1):
        raise PovsimError(f"environment variable NUMBA_NUM_THREADS = {brief(threads)}: expected "
                          "a whole number of threads, at least 1: unset it or set e.g. "
                          "NUMBA_NUM_THREADS=2")
    backend = os.environ.get("MPLBACKEND")
    if backend is not None and command in DRAWING:
        try:                     # matplotlib reads MPLBACKEND on import
            from matplotlib import rcsetup
            rcsetup.validate_backend(backend)
        except ValueError:
            raise PovsimError(f"environment variable MPLBACKEND = {brief(backend)} is not a "
                              "matplotlib backend: unset it or set MPLBACKEND=Agg") from None


def _seeds(args, default: int) -> list[int]:
    """The seeds of a run: --seed on, --seeds of them (or ``default``)."""
    n_seeds = args.seeds or default
    if n_seeds > MAX_SEEDS:
        raise PovsimError(f"{n_seeds} seeds: at most {MAX_SEEDS} in one run")
    if args.seed + n_seeds - 1 > MAX_SEED:
        raise PovsimError(f"--seed {args.seed} with {n_seeds} seeds: the last seed would be "
                          f"above 2**53 - 1 ({MAX_SEED}), the largest stored exactly: choose a "
                          "smaller --seed")
    return list(range(args.seed, args.seed + n_seeds))


def _registry_path(text: str) -> str:
    """A registry file given on the command line, as a path a scenario keeps."""
    reg = Path(text)
    if reg.suffix.lower() in (".nc", ".csv", ".parquet", ".toml") and reg.is_file():
        return str(reg.resolve())
    return text


def _check_run(scenario, registry) -> None:
    """Checks of a scenario against its registry before a run (years, scale,
    targets); prints a warning for each target that can never be evaluated."""
    from model import runs

    runs.check_years(scenario, registry)
    for warning in runs.check_targets(scenario, registry):
        print(f"povsim: warning: {warning}", file=sys.stderr)


def _run(args) -> int:
    start = time.perf_counter()
    from model.helper_process import HelperProcess

    # the charts' modules load in a second process while this one simulates
    with HelperProcess(CHART_MODULES) as charts, ExitStack() as ahead:
        with _loading():
            from model import runs
            from model.atomic import check_output_folder, output_folder
            from model.scenario import load_scenario

            if args.out is not None:
                check_output_folder(args.out)
            scenario = load_scenario(args.scenario)
            if args.scale is not None:
                scenario = dataclasses.replace(scenario, scale=args.scale)
            out = check_output_folder(args.out or Path("outputs") / scenario.name)
            if args.posterior:
                from model.calibration.posterior import attach
                scenario = attach(scenario, None if args.posterior is True else args.posterior)
            if args.registry:
                scenario = dataclasses.replace(scenario, registry=_registry_path(args.registry))
            seeds = _seeds(args, scenario.seeds)
            ahead.enter_context(_compiling_ahead(args, scenario))
            _check_run(scenario, runs.registry_for(scenario))  # a bad input fails before any work
            # xarray: once the inputs are known to be good
            from model import results
            from model.analysis import run_chart as plots
            from model.analysis import summary

            lang, font = _chart_language(args.lang)
        if args.scheduler is None and (args.workers is None or args.workers == 1
                                       or len(seeds) == 1):
            ds = runs.run(scenario, seeds)
        else:
            (ds,) = runs.run_all([scenario], seeds, args.workers, scheduler=args.scheduler)
        names = ["results.nc", "summary.csv", "registered_poor.png", "registered_poor.svg"]
        with output_folder(out) as path_for:
            nc, csv = path_for(names[0]), path_for(names[1])
            path_for(names[3])            # written beside the PNG: listed in the manifest
            charts.submit(plots.poor_by_year, ds, path_for(names[2]), lang, font)
            results.write_netcdf(ds, nc)
            summary.write_summary_csv(ds, csv)
            charts.result()
    print(format_table(ds))
    print(f"\nwrote {', '.join(names)} and their manifest to {out} "
          f"({time.perf_counter() - start:.1f} s)")
    return 0


def _compiling_ahead(args, scenario):
    """The block in which, on the first run after install, kernels compile
    as the registry loads (:func:`model.runs.compiling_ahead`); nothing for
    a scheduler's workers, which compile their own."""
    from model import runs

    return nullcontext() if args.scheduler else runs.compiling_ahead(scenario)


def _chart_language(lang: str) -> tuple[str, str | None]:
    """The charts' language and CJK font (:func:`model.analysis.charts.chart_language`),
    with a warning when Chinese labels cannot be drawn. English needs no
    font: matplotlib is not imported here for it."""
    if lang == "en":
        return "en", None
    from model.analysis.charts import chart_language

    lang, font, warning = chart_language(lang)
    if warning:
        print(f"povsim: warning: {warning}", file=sys.stderr)
    return lang, font


@contextmanager
def _loading():
    """Run the block without garbage collection, then freeze what it made.

    Loading the modules of a run (xarray, pandas, matplotlib, numba) makes
    about 250,000 lasting objects and no garbage worth a collection; the
    collector would walk them all several times (about 0.3 s of a run).
    Frozen (:func:`gc.freeze`), they are left out of later collections.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _compare(args) -> int:
    from model import runs
    from model.atomic import check_output_folder, output_folder
    from model.scenario import load_scenario

    start = time.perf_counter()
    if args.out is not None:
        check_output_folder(args.out)
    scenarios = [load_scenario(s) for s in (args.scenarios or [None])]
    if args.scale is not None:
        scenarios = [dataclasses.replace(s, scale=args.scale) for s in scenarios]
    if args.posterior:
        from model.calibration.posterior import attach
        scenarios = [attach(s, None if args.posterior is True else args.posterior)
                     for s in scenarios]
    seeds = _seeds(args, max(s.seeds for s in scenarios))
    out = check_output_folder(args.out or Path("outputs") / ("compare-" + "-".join(
        dict.fromkeys(s.name for s in scenarios))))
    with _compiling_ahead(args, scenarios[0]):
        for s in scenarios:
            _check_run(s, runs.registry_for(s))
        # xarray and matplotlib: once the inputs are known to be good
        from model import results
        from model.analysis import charts, compare, report

        names = compare.unique_labels([s.name for s in scenarios])
        lang, font, warning = charts.chart_language(args.lang)
        if warning:
            print(f"povsim: warning: {warning}", file=sys.stderr)
        from model.run_store import RunStore, run_into
        store, existed = RunStore.for_runs(out, scenarios, names, seeds, args.resume)
        done = run_into(store, scenarios, args.workers, args.scheduler)
    print(f"ran {done.ran} runs, skipped {done.skipped} already done"
          + (f" (resumed {store.path})" if existed else f" (stored in {store.path})"),
          file=sys.stderr, flush=True)
    cmp = compare.compare([store.dataset(k) for k in range(len(scenarios))], names)
    from model.analysis import quota_check
    quota_lines = [line for s, n in zip(scenarios, names)
                   for line in quota_check.lines(quota_check.check(s), n, args.lang)]
    summary = report.markdown(cmp, quota_lines, args.lang)   # text: needs no CJK font
    files = ["compare.nc", "compare.csv", "summary.md"]
    with output_folder(out) as path_for:
        results.write_netcdf(cmp, path_for("compare.nc"))
        path_for("compare.csv").write_text(report.csv_text(cmp), encoding="utf-8")
        path_for("summary.md").write_text(summary, encoding="utf-8")
        files += charts.write_charts(cmp, path_for, lang, font)
    print(summary)
    print(f"wrote {', '.join(files)} to {out} ({time.perf_counter() - start:.1f} s)")
    return 0


def _scenarios() -> int:
    from model.scenario import DEFAULT_NAME, list_scenarios, load_scenario

    default = load_scenario()
    rows = [(DEFAULT_NAME, f"(embedded, {default.name}) {default.description}")]
    rows += [(name, description) for name, description, _ in list_scenarios()]
    width = max(len(name) for name, _ in rows)
    for name, description in rows:
        print(f"{name.ljust(width)}  {description}".rstrip())
    return 0


def _registry(args) -> int:
    from model import runs
    from model.atomic import check_output_file
    from model.registry import files as registry_io
    from model.registry import synth

    start = time.perf_counter()
    if args.registry_command == "validate":
        reg = registry_io.load_registry(args.file, limit=args.limit)
        print(describe(reg))
        print(f"{args.file}: ok")
        return 0
    check_output_file(args.out, (".nc", ".csv", ".parquet"))
    for path in registry_io.export_paths(args.out):
        if path.is_dir():
            raise PovsimError(f"--out {args.out}: '{path}', a file of the export, is a folder: "
                              "choose another name or remove the folder")
    reg = synth.build(*synth.load_spec(args.spec)) if Path(args.spec).suffix.lower() != ".toml" \
        else runs.load_registry(args.spec)
    built = time.perf_counter() - start
    written = registry_io.write_registry(reg, args.out)
    print(describe(reg))
    print(f"built in {built:.1f} s; wrote {', '.join(str(p) for p in written)} "
          f"({time.perf_counter() - start:.1f} s)")
    return 0


def describe(reg) -> str:
    """One line about a registry: households, people, pool, counties, villages."""
    h = reg.households
    registered = h["registered"] == 1
    people = int(h["size"][registered].sum(dtype="int64"))
    return (f"registry {reg.name} (base year {reg.base_year}): {int(registered.sum()):,} "
            f"registered households, {people:,} people, {int((~registered).sum()):,} near-poor "
            f"households, {reg.n_counties:,} counties "
            f"({int(reg.counties['poor_county'].sum()):,} poor), "
            f"{len(reg.villages['village_id']):,} villages "
            f"({int(reg.villages['poor_village'].sum()):,} poor)")


def format_table(ds) -> str:
    """The printed table: registered poor by year beside the plan, if any."""
    import math

    from model.analysis.summary import scale_note, scale_of, summary_table

    t = summary_table(ds)
    several = "registered_people_p10" in t
    plan = "plan_exits_people" in t
    head = f"{ds.attrs['scenario']}: {ds.sizes['seed']} seed(s), registry {ds.attrs['registry']}"
    note = scale_note(scale_of(ds))
    head += f"; {note}" if note else ""
    cols = ["year", "reg. households", "reg. people"]
    cols += ["10-90 %"] if several else []
    cols += ["exits (people)", "returns (people)", "return rate", "entries (people)",
             "survey poor"]
    cols += ["plan exits", "plan reg. people"] if plan else []
    rows = []
    for i, year in enumerate(t["year"]):
        row = [str(year), f"{t['registered_households'][i]:,.0f}",
               f"{t['registered_people'][i]:,.0f}"]
        if several:
            row.append(f"{t['registered_people_p10'][i]:,.0f}-{t['registered_people_p90'][i]:,.0f}")
        rate = t["return_rate"][i]
        row += [f"{t['exits_people'][i]:,.0f}", f"{t['returns_people'][i]:,.0f}",
                "-" if math.isnan(rate) else f"{100 * rate:.2f}%",
                f"{t['entries_people'][i]:,.0f}", f"{t['true_poor_people'][i]:,.0f}"]
        if plan:
            row += [f"{t['plan_exits_people'][i]:,.0f}",
                    f"{max(t['plan_registered_people'][i], 0):,.0f}"]
        rows.append(row)
    widths = [max(len(c), *(len(r[k]) for r in rows)) for k, c in enumerate(cols)]
    lines = [head, "  ".join(c.rjust(w) for c, w in zip(cols, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in rows]
    lines.append("(registered people = last year's - exits + returns + entries (新识别); "
                 "return rate = returns / people in exited households a year before; "
                 "survey poor = people below their line, registered or not, the NBS "
                 "headcount's counterpart; "
                 + ("mean over seeds; 10-90 % range of registered people across seeds)"
                    if several else "one seed)"))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
