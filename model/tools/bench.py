"""``povsim bench``: speed of the fused income kernel against its numpy
reference, with 1 and 2 threads, and of a whole simulated year.

Figures are household-years per second (median of ``repeats`` runs) measured
in this process, so ratios are against a reference run on the same machine at
the same time. The numpy reference draws the same random numbers with exact
transcendental functions; the benchmark checks that it reproduces the
kernel's statistics: mean income and the share below the line within a
relative 1e-4, and every household's income within 1e-4 relative (or 0.05
yuan absolute).
"""

from __future__ import annotations

import time

import numba
import numpy as np

from model.engine.kernels import income_update, income_update_numpy
from model.engine.sim import Simulation
from model.params import Parameters
from model.programmes.measures import instances
from model.random import Stream, year_key
from model.registry.synth import synthetic

TOLERANCE = 1e-4


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
    outputs = {k: np.zeros(n, f32) for k in ("z", "market", "medical", "topup", "income")}
    return inputs, outputs


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
    threads = numba.config.NUMBA_NUM_THREADS
    for k in sorted({1, min(2, threads)}):
        numba.set_num_threads(k)
        rates[f"kernel_{k}t"] = n / _time(lambda: income_update(*inputs, **out), repeats)
    numba.set_num_threads(threads)
    ref = {k: np.zeros(n, np.float32) for k in out}
    rates["numpy"] = n / _time(lambda: income_update_numpy(*inputs, **ref), max(1, repeats // 3))
    # same state for both: one step from z = 0
    fresh_k = {k: np.zeros(n, np.float32) for k in out}
    fresh_n = {k: np.zeros(n, np.float32) for k in out}
    income_update(*inputs, **fresh_k)
    income_update_numpy(*inputs, **fresh_n)
    rates.update(compare(fresh_k, fresh_n))
    return rates


def bench_year(n: int, repeats: int) -> float:
    """Seconds for one whole simulated year (all steps) at ``n`` households."""
    reg = synthetic(n)
    params = Parameters.load()
    sim = Simulation(reg, params, seed=0, end_year=reg.base_year + 1 + repeats,
                     programmes=instances())
    sim._record_base_year()
    sim.step(reg.base_year + 1)  # warm-up: compile or load kernels
    times = []
    for year in range(reg.base_year + 2, reg.base_year + 2 + repeats):
        t = time.perf_counter()
        sim.step(year)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main(sizes: list[int], repeats: int) -> int:
    print(f"numba {numba.__version__}, {numba.config.NUMBA_NUM_THREADS} threads available; "
          f"median of {repeats} runs (numpy: of {max(1, repeats // 3)})")
    header = ("households", "kernel 1t", "kernel 2t", "numpy", "2t/numpy", "year (s)",
              "year hh/s", "max rel diff")
    print("  ".join(f"{h:>12}" for h in header))
    ok = True
    for n in sizes:
        r = bench_kernel(n, repeats)
        year = bench_year(n, max(1, repeats // 2))
        best = r.get("kernel_2t", r["kernel_1t"])
        row = (f"{n:.0e}", f"{r['kernel_1t']:.3g}", f"{best:.3g}", f"{r['numpy']:.3g}",
               f"{best / r['numpy']:.1f}x", f"{year:.3f}", f"{n / year:.3g}",
               f"{r['max_rel_diff']:.1e}")
        print("  ".join(f"{v:>12}" for v in row))
        mean_ok = abs(r["mean_kernel"] / r["mean_numpy"] - 1) < TOLERANCE
        poor_ok = abs(r["poor_kernel"] - r["poor_numpy"]) < TOLERANCE
        hh_ok = r["max_rel_diff"] < TOLERANCE
        ok &= mean_ok and poor_ok and hh_ok
        print(f"{'':>12}  statistics: mean income kernel {r['mean_kernel']:.2f} / numpy "
              f"{r['mean_numpy']:.2f}; share below 2,952 kernel {r['poor_kernel']:.5f} / numpy "
              f"{r['poor_numpy']:.5f} -> {'agree' if mean_ok and poor_ok and hh_ok else 'DIFFER'}"
              f" (tolerance {TOLERANCE:g})")
    print("units: household-years per second; 'year' is one whole simulated year (enrolment, "
          "components, income, verification, tally, programme records)")
    return 0 if ok else 1
