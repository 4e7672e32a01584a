"""``povsim bench``: speed of the fused income kernel against its numpy
reference, with 1 and 2 threads, of a whole simulated year, and of the
national scenario 2015-2020.

Figures are household-years per second (median of ``repeats`` runs) measured
in this process, so ratios are against a reference run on the same machine at
the same time. The national scenario is also run once in a new process, as
a user runs it: that time holds what a first run of a process pays (its
memory faulted in, which on a virtual machine varies by seconds from one
run to the next). The numpy reference draws the same random numbers with exact
transcendental functions; the benchmark checks that it reproduces the
kernel's statistics: mean income and the share below the line within a
relative 1e-4, and every household's income within 1e-4 relative (or 0.05
yuan absolute).

Peak memory is what numpy and Python allocate during the measured step
(``tracemalloc``, a separate run from the timed ones), per household; a
registry memory-mapped from the cache (:mod:`model.registry.cache`) is not
counted, a registry built during the step is.

Beside each size, ``povsim bench`` measures the memory's streaming rate (a
triad, ``a = b + s * c`` over float32 arrays as large together as the
kernel's, on the kernel's threads: caches hold a small working set, not a
large one) and sets the kernel and the year against it: the bytes
per household the kernel moves (its arrays' bytes, read and written), the
share of the triad's rate it reaches, and the bytes per household whose
traffic at that rate would take as long as the year. A kernel near the
triad's rate is bound by the memory, not by its arithmetic; the year's
bytes say how many passes of that kind it makes.

``--check`` runs a small version for CI: it fails (exit 1) when the whole
year takes more than twice as many kernel-times as the stored baseline
(``bench_baseline.json`` beside this file, written by ``--save-baseline``).
"""

from __future__ import annotations

import inspect
import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numba
import numpy as np

from model.engine.kernels import income_update, income_update_numpy
from model.engine.sim import Simulation
from model.engine.threads import KERNEL, on_threads, set_threads
from model.params import Parameters
from model.programmes.measures import instances
from model.random import Stream, year_key
from model.registry.synth import synthetic

TOLERANCE = 1e-4
BASELINE = Path(__file__).with_name("bench_baseline.json")
CHECK_SIZE = 200_000  # households of the CI check
REGRESSION = 2.0  # --check fails when the year/kernel ratio grows by more than this
CHECK_ATTEMPTS = 3  # ... in this many measurements in a row


def kernel_arguments(n: int, seed: int = 0) -> tuple[tuple, dict]:
    """Inputs and fresh outputs of one income update for ``n`` synthetic households."""
    reg = synthetic(n, seed=seed)
    h = reg.households
    rng = np.random.default_rng(seed + 1)
    f32 = np.float32
    inputs = (h["hh_id"], h["county"], h["size"], h["ill"], h["market_income"],
              (1.1 * np.exp(0.05 * rng.standard_normal(reg.n_counties))).astype(f32),
              np.where(h["labourers"] > 0, f32(800), f32(0)), np.full(n, f32(300)),
              np.where(h["labourers"] == 0, f32(2600), f32(0)), np.zeros(n, f32),
              (h["ill"] > 0).astype(np.uint8), year_key(seed, Stream.INCOME, 2016),
              year_key(seed, Stream.ILLNESS, 2016), f32(0.7), f32(0.25 * np.sqrt(1 - 0.49)),
              f32(0.15), f32(-0.5 * (0.25**2 + 0.15**2)), f32(0.05), f32(0.25), f32(8000),
              f32(0.5), f32(0.3), f32(5000))
    outputs = {k: np.zeros(n, f32) for k in ("z", "topup", "income")}
    return inputs, outputs


def kernel_bytes(inputs: tuple, outputs: dict) -> int:
    """Bytes the income update moves per household: every input array of
    one value a household read (not the counties' factors, a table by
    county), every output written, and the persistent shock ``z`` read too
    (it is updated in place)."""
    names = inspect.signature(income_update).parameters
    read = sum(a.itemsize for name, a in zip(names, inputs)
               if isinstance(a, np.ndarray) and name != "county_factor")
    return read + sum(a.itemsize for a in outputs.values()) + outputs["z"].itemsize


TRIAD_BYTES = 12  # bytes a triad element moves: two float32 read, one written


@on_threads()
@numba.njit(**KERNEL)
def _triad(a, b, c, s):
    for i in range(a.shape[0]):
        a[i] = b[i] + s * c[i]


def triad_rate(n: int, calls: int = 5) -> float:
    """The memory's streaming rate on the threads set (bytes/s): the
    fastest of ``calls`` triads over ``n`` float32 elements (``n *``
    :data:`TRIAD_BYTES` bytes in all), after one that compiles or loads
    the kernel and touches the arrays."""
    a, b, c = np.empty(n, np.float32), np.ones(n, np.float32), np.full(n, 2.0, np.float32)
    s = np.float32(0.5)
    _triad(a, b, c, s)
    return TRIAD_BYTES * n / _fastest(lambda: _triad(a, b, c, s), calls)


def _time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def compare(kernel_out: dict, numpy_out: dict, line: float = 2952.0) -> dict[str, float]:
    """Statistics of both implementations and their largest differences."""
    a, b = kernel_out["income"].astype(np.float64), numpy_out["income"].astype(np.float64)
    rel = np.abs(a - b) / np.maximum(np.abs(b), 500.0)
    return {"mean_kernel": a.mean(), "mean_numpy": b.mean(),
            "poor_kernel": (a < line).mean(), "poor_numpy": (b < line).mean(),
            "max_rel_diff": float(rel.max())}


def bench_kernel(n: int, repeats: int) -> dict[str, float]:
    inputs, out = kernel_arguments(n)
    income_update(*inputs, **out)  # compile or load from cache, and touch the outputs
    rates = {}
    most = numba.config.NUMBA_NUM_THREADS
    rates["kernel_bytes"] = kernel_bytes(inputs, out)
    for k in sorted({1, min(2, most)}):
        set_threads(k)
        rates[f"kernel_{k}t"] = n / _time(lambda: income_update(*inputs, **out), repeats)
        if k == min(2, most):  # bytes/s, on the threads of kernel_2t and as many bytes
            rates["triad"] = triad_rate(n * rates["kernel_bytes"] // TRIAD_BYTES)
    set_threads(most)
    ref = {k: np.zeros(n, np.float32) for k in out}
    rates["numpy"] = n / _time(lambda: income_update_numpy(*inputs, **ref), max(1, repeats // 3))
    # same state for both: one step from z = 0
    fresh_k = {k: np.zeros(n, np.float32) for k in out}
    fresh_n = {k: np.zeros(n, np.float32) for k in out}
    income_update(*inputs, **fresh_k)
    income_update_numpy(*inputs, **fresh_n)
    rates.update(compare(fresh_k, fresh_n))
    return rates


# households per county and per village of the national registry (the nation
# spec at scale 1: 32,428,000 households in 2,032 counties; at scale 0.1,
# 3,242,800 in 42,800 villages): the density of the year "at the nation's
# density"
NATION_PER_COUNTY, NATION_PER_VILLAGE = 16_000, 76
# the years of a run, after its first, timed for its median year
RUN_YEARS = 5


def bench_year(n: int, repeats: int, national_density: bool = True,
               timed: int = 0) -> tuple[float, float, float]:
    """Seconds for one whole simulated year (all steps) at ``n`` households:
    the median of the first ``repeats`` years after the first (the run's
    heaviest: most enrolments take effect and most households exit then);
    the peak bytes per household allocated during a year; and the median
    of the first ``max(timed, repeats)`` years (with ``timed`` the years of
    a run, its median year).

    With ``national_density`` (the headline figure) the synthetic
    registry's counties and villages are the size of the national
    registry's (:data:`NATION_PER_COUNTY`, :data:`NATION_PER_VILLAGE`).
    Without it the registry has 100 counties of 50 villages whatever ``n``:
    at 1e7 the counties are six and the villages twenty-six times the
    nation's, and each county's delivery capacity then holds almost every
    enrolment of the income programmes back, so that few programmes have
    anyone active and the year is cheaper than any real one.

    The years are timed in the second run of the process, as in a sweep or
    a calibration: the first grows the process's heap to the size a year
    needs (beyond what :func:`model.allocator.reserve_heap` backs before
    it, page faults paid once a process) and compiles or loads the
    kernels."""
    years = max(timed, repeats)
    sim, first_timed = stepping_simulation(n, years, national_density)
    times = []
    for year in range(first_timed, first_timed + years):
        t = time.perf_counter()
        sim.step(year)
        times.append(time.perf_counter() - t)
    peak = _peak(lambda: sim.step(first_timed + years))
    return float(np.median(times[:repeats])), peak / n, float(np.median(times))


def stepping_simulation(n: int, years: int, national_density: bool = True):
    """The simulation whose years :func:`bench_year` times, and the first of
    them: the run's second in this process (see :func:`bench_year`), its
    base year recorded and its first year stepped, with ``years`` to time
    and one more."""
    if national_density:
        counties = max(1, round(n / NATION_PER_COUNTY))
        reg = synthetic(n, n_counties=counties,
                        villages_per_county=max(1, round(n / counties / NATION_PER_VILLAGE)))
    else:
        reg = synthetic(n)
    params = Parameters.load()
    first = Simulation(reg, params, seed=0, end_year=reg.base_year + 1 + years,
                       programmes=instances())
    first.run()
    del first
    sim = Simulation(reg, params, seed=0, end_year=reg.base_year + 2 + years,
                     programmes=instances())
    sim._record_base_year()
    sim.step(reg.base_year + 1)
    return sim, reg.base_year + 2


def paired_kernel_times(n: int, repeats: int) -> tuple[float, float, float]:
    """The whole year in kernel-times, each of the first ``repeats`` years
    after the first (as :func:`bench_year`'s 'year') against the kernel
    timed just before it: the fastest of three calls on one thread and
    three on two (the faster thread count). Returns the median of the
    years' ratios, the median kernel rate (household-years/s) and the
    median year (s).

    A ratio of figures taken seconds apart follows the host's speed
    between them: on a shared machine whose speed drifts it varied by 2x
    from run to run. Each pair here is taken within a year's time."""
    inputs, out = kernel_arguments(n)
    income_update(*inputs, **out)  # compile or load from cache, and touch the outputs
    sim, first_timed = stepping_simulation(n, repeats)
    most = numba.config.NUMBA_NUM_THREADS
    kernels, years = [], []
    for year in range(first_timed, first_timed + repeats):
        fastest = np.inf
        for k in sorted({1, min(2, most)}):
            set_threads(k)
            fastest = min(fastest, fastest_kernel(inputs, out))
        set_threads(most)
        t = time.perf_counter()
        sim.step(year)
        years.append(time.perf_counter() - t)
        kernels.append(fastest)
    ratios = np.array(years) / np.array(kernels)
    return float(np.median(ratios)), n / float(np.median(kernels)), float(np.median(years))


def fastest_kernel(inputs: tuple, out: dict, calls: int = 3) -> float:
    """Seconds of the fastest of ``calls`` calls of the income kernel on
    ``inputs`` and ``out`` (:func:`kernel_arguments`), at the threads set."""
    return _fastest(lambda: income_update(*inputs, **out), calls)


def _fastest(fn, calls: int) -> float:
    """Seconds of the fastest of ``calls`` calls of ``fn()``."""
    return min(_time(fn, 1) for _ in range(calls))


def _peak(fn) -> float:
    """Peak bytes allocated (numpy and Python) while ``fn()`` runs."""
    tracemalloc.start()
    try:
        fn()
        return float(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()


def prepare_national(scale: float) -> dict:
    """The national scenario at ``scale``: its registry built or loaded from
    the cache (timed), its kernels loaded, then its run with one seed in a
    new process (:func:`_in_new_process`), before this process holds a
    run's memory, which the new one would need besides."""
    import dataclasses

    from model.registry import cache as registry_cache
    from model.runs import _spec_text, prepare_kernels, registry_for
    from model.scenario import load_scenario

    scenario = dataclasses.replace(load_scenario("national"), scale=scale)
    where = registry_cache.folder()
    text = _spec_text(scenario.registry)
    cached = (where is not None and text is not None and (
        where / "registry" / registry_cache.key(text, scale) / "meta.json").is_file())
    t = time.perf_counter()
    reg = registry_for(scenario)
    out = {"scenario": scenario, "registry": reg, "households": reg.n_households,
           "registry_s": time.perf_counter() - t, "registry_loaded": float(cached)}
    prepare_kernels(scenario, reg)
    out["process_s"] = _in_new_process(scale)
    return out


def bench_national(scale: float, repeats: int, prepared: dict | None = None) -> dict[str, float]:
    """The national scenario 2015-2020, one seed, at ``scale``, with delivery
    on and off: registry (build or cache load) time, setup and simulation
    time, time in delivery, wall time of a run, peak bytes per household,
    and the run in a new process (``prepared`` by :func:`prepare_national`,
    or prepared now)."""
    from model.results import to_dataset

    prepared = prepare_national(scale) if prepared is None else prepared
    scenario, reg = prepared["scenario"], prepared["registry"]
    out = {k: v for k, v in prepared.items() if k not in ("scenario", "registry")}
    programmes = scenario.programmes
    variants = {"on": scenario.params_for(0),
                "off": scenario.params_for(0).with_overlay({"delivery.enabled": 0},
                                                           source="bench")}

    def simulate(label):
        start = time.perf_counter()
        sim = Simulation(reg, variants[label], 0, scenario.end_year, instances(programmes),
                         scale=scale)
        t0 = time.perf_counter()
        record = sim.run()
        t1 = time.perf_counter()
        to_dataset(record, reg, scenario, 0, [p.name for p in sim.programmes])
        return t1 - t0, time.perf_counter() - t0, sim.delivery_seconds, t0 - start

    # The first simulations of a process grow its heap to what a run needs,
    # past what reserve_heap backs before the first (page faults), and each
    # variant to its own size (delivery off enrols sooner: longer lists).
    # One untimed run of each first, then on and off alternate, so that
    # neither variant carries the other's growth.
    for label in ("on", "off"):
        Simulation(reg, variants[label], 0, scenario.end_year, instances(programmes),
                   scale=scale).run()
    runs = {"on": [], "off": []}
    for r in range(repeats):
        for label in (("on", "off") if r % 2 == 0 else ("off", "on")):
            runs[label].append(simulate(label))
    for label, timed in runs.items():
        out[f"sim_{label}_s"] = statistics.median(t[0] for t in timed)
        out[f"run_{label}_s"] = statistics.median(t[1] for t in timed)
        out[f"delivery_{label}_s"] = statistics.median(t[2] for t in timed)
        out[f"setup_{label}_s"] = statistics.median(t[3] for t in timed)
    out["peak_b_per_hh"] = _peak(lambda: simulate("on")) / reg.n_households
    return out


def _in_new_process(scale: float) -> float:
    """Wall seconds of ``povsim run national --scale SCALE --seeds 1
    --workers 1`` in a new process, from its start to its exit, as a user
    runs it (:func:`model.tools.startup_bench.timed`; its files go to a
    temporary folder): imports, the registry (loaded from the cache the
    bench filled), the kernels (loaded from numba's cache), the first run
    of a process (its memory faulted in), the dataset and the files."""
    from model.tools.startup_bench import HERE, timed

    with tempfile.TemporaryDirectory(prefix="povsim-bench-") as folder:
        command = [sys.executable, "-m", "model", "run", "national", "--scale", repr(scale),
                   "--seeds", "1", "--workers", "1", "--out", str(Path(folder) / "run")]
        return timed(command, dict(os.environ, PYTHONPATH=str(HERE)), Path(folder))[1]


def check(repeats: int, save: bool) -> int:
    """CI check: the whole year at :data:`CHECK_SIZE` households against the
    kernel, each year against the kernel timed just before it
    (:func:`paired_kernel_times`), compared with the stored baseline.

    It fails when :data:`CHECK_ATTEMPTS` measurements in a row exceed the
    limit: a regression of the code shows in each, a moment when others
    load the shared host only in some (on this 2-core host one run in a
    few came within a percent of the limit, the code unchanged)."""
    if save:
        ratio = _measure_check(repeats)
        BASELINE.write_text(json.dumps({"households": CHECK_SIZE, "year_over_kernel": ratio},
                                       indent=1) + "\n", encoding="utf-8")
        print(f"stored as the baseline in {BASELINE.name}")
        return 0
    stored = json.loads(BASELINE.read_text(encoding="utf-8"))["year_over_kernel"]
    for attempt in range(1, CHECK_ATTEMPTS + 1):
        ok = _measure_check(repeats) <= REGRESSION * stored
        print(f"baseline {stored:.1f} kernel-times: {'ok' if ok else 'over the limit'} "
              f"(fails above {REGRESSION:g} x the baseline, {REGRESSION * stored:.1f}, "
              f"{CHECK_ATTEMPTS} times in a row; measurement {attempt})")
        if ok:
            return 0
    print("REGRESSED")
    return 1


def _measure_check(repeats: int) -> float:
    """One measurement of :func:`check`, printed; returns its kernel-times."""
    ratio, kernel, year = paired_kernel_times(CHECK_SIZE, repeats)
    print(f"{CHECK_SIZE:,} households: kernel {kernel:.3g} household-years/s, whole year "
          f"{CHECK_SIZE / year:.3g} household-years/s: the year takes {ratio:.1f} kernel-times")
    return ratio


def main(sizes: list[int], repeats: int, national: list[float] = (),
         check_only: bool = False, save_baseline: bool = False) -> int:
    if check_only or save_baseline:
        return check(repeats, save_baseline)
    print(f"numba {numba.__version__}, {numba.config.NUMBA_NUM_THREADS} threads available; "
          f"median of {repeats} runs (numpy: of {max(1, repeats // 3)})")
    header = ("households", "kernel 1t", "kernel 2t", "numpy", "2t/numpy", "year (s)",
              "year hh/s", "kernel/year", "year B/hh", "median yr (s)", "median hh/s",
              "100 cties (s)", "max rel diff")
    print("  ".join(f"{h:>12}" for h in header))
    ok = True
    # each national run in a new process first, while this one is small
    prepared = {scale: prepare_national(scale) for scale in national}
    for n in sizes:
        r = bench_kernel(n, repeats)
        year, peak, median = bench_year(n, max(1, repeats // 2), timed=RUN_YEARS)
        sparse = bench_year(n, max(1, repeats // 2), national_density=False)[0]
        best = max(r["kernel_1t"], r.get("kernel_2t", 0.0))
        row = (f"{n:.0e}", f"{r['kernel_1t']:.3g}", f"{best:.3g}", f"{r['numpy']:.3g}",
               f"{best / r['numpy']:.1f}x", f"{year:.3f}", f"{n / year:.3g}",
               f"{best * year / n:.1f}x", f"{peak:.0f}", f"{median:.3f}", f"{n / median:.3g}",
               f"{sparse:.3f}", f"{r['max_rel_diff']:.1e}")
        print("  ".join(f"{v:>12}" for v in row))
        mean_ok = abs(r["mean_kernel"] / r["mean_numpy"] - 1) < TOLERANCE
        poor_ok = abs(r["poor_kernel"] - r["poor_numpy"]) < TOLERANCE
        hh_ok = r["max_rel_diff"] < TOLERANCE
        ok &= mean_ok and poor_ok and hh_ok
        two = r.get("kernel_2t", r["kernel_1t"])
        print(f"{'':>12}  memory: a triad streams {r['triad'] / 1e9:.1f} GB/s on "
              f"{min(2, numba.config.NUMBA_NUM_THREADS)} threads; the kernel moves "
              f"{r['kernel_bytes']} B a household, {two * r['kernel_bytes'] / 1e9:.1f} GB/s "
              f"({two * r['kernel_bytes'] / r['triad']:.0%} of the triad); the year takes as "
              f"long as {year * r['triad'] / n:.0f} B a household at the triad's rate")
        print(f"{'':>12}  statistics: mean income kernel {r['mean_kernel']:.2f} / numpy "
              f"{r['mean_numpy']:.2f}; share below 2,952 kernel {r['poor_kernel']:.5f} / numpy "
              f"{r['poor_numpy']:.5f} -> {'agree' if mean_ok and poor_ok and hh_ok else 'DIFFER'}"
              f" (tolerance {TOLERANCE:g})")
    print("units: household-years per second; 'year' is one whole simulated year (enrolment, "
          "delivery, components, income, verification, tally, programme records) of "
          f"households in counties of {NATION_PER_COUNTY:,} and villages of "
          f"{NATION_PER_VILLAGE}, as in the national registry: the median of the first "
          f"{max(1, repeats // 2)} after the run's first year, when most enrolments take "
          "effect and most households exit; kernel/year: how many kernel-times it takes; "
          "B/hh: peak bytes allocated per household during it; median yr: the median of the "
          f"first {RUN_YEARS} after the run's first year; "
          "100 cties: the same households in 100 counties of 50 villages (at 1e7, counties "
          "too large for their delivery capacity: most enrolments are held back, so the year "
          "is cheaper than a real one)")
    if national:
        print("\nnational scenario 2015-2020, one seed (delivery on | off):")
        header = ("scale", "households", "registry s", "setup s", "sim on s", "delivery s",
                  "share", "run on s", "sim off s", "on - off s", "peak B/hh", "process s")
        print("  ".join(f"{h:>11}" for h in header))
    for scale in national:
        r = bench_national(scale, 3 if scale <= 0.05 else 2, prepared.pop(scale))
        row = (f"{scale:g}", f"{r['households']:,}",
               f"{r['registry_s']:.2f} {'load' if r['registry_loaded'] else 'build'}",
               f"{r['setup_on_s']:.3f}", f"{r['sim_on_s']:.3f}", f"{r['delivery_on_s']:.3f}",
               f"{r['delivery_on_s'] / r['sim_on_s']:.0%}", f"{r['run_on_s']:.3f}",
               f"{r['sim_off_s']:.3f}", f"{r['sim_on_s'] - r['sim_off_s']:.3f}",
               f"{r['peak_b_per_hh']:.0f}", f"{r['process_s']:.2f}")
        print("  ".join(f"{v:>11}" for v in row))
    if national:
        print("setup: the simulation's state and the base year's incomes; sim: the yearly "
              "loop; run: sim and the dataset; delivery: time inside the delivery model; "
              "registry: built from the spec or loaded from the cache; process: povsim run "
              "of it in a new process, from its start to its exit (imports, the registry "
              "and kernels loaded from the caches, its memory faulted in, setup, run, "
              "files), as a user's")
    return 0 if ok else 1
