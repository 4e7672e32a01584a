"""Build and load time of a registry built from a spec, and its peak memory.

``python -m model.tools.registry_bench [SPEC] [SCALE]`` (default ``nation``
at 1: the national registry, 32.4M households with the near-poor pool) builds
the registry in this process (no cache), prints the wall and processor time
and the peak resident memory of the process up to the end of the build, then
the compiled loops of the build (:mod:`model.registry.draws`) against their
numpy references on the registry's own columns (same results, the ratio of
times), then the time to save the registry as a cache entry
(:mod:`model.registry.cache`), to load it back memory-mapped, and to read
every page of it once.

Run it in a fresh process: the peak is that of the whole process.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from model.cli import share, tool_errors
from model.registry import cache, draws, synth


def peak_bytes() -> int:
    """Peak resident memory of this process so far (bytes; Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def timed(fn):
    """``(result, wall seconds, processor seconds)`` of ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def kernel_ratios(reg) -> list[tuple[str, float, float, bool]]:
    """(loop, numpy s, compiled s, same result) on the registry's columns."""
    h, v = reg.households, reg.villages
    rows = []

    def compare(name, reference, compiled):
        rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
        expected, t_numpy, _ = timed(lambda: reference(rng_a))
        got, t_compiled, _ = timed(lambda: compiled(rng_b))
        same = all(np.array_equal(a, b) for a, b in zip(expected, got)) and (
            rng_a.bit_generator.state == rng_b.bit_generator.state)
        rows.append((name, t_numpy, t_compiled, same))

    spare = h["size"] - 1
    compare("binomial", lambda r: [r.binomial(spare, 0.55)],
            lambda r: [draws.binomial(r, spare, 0.55)])
    county = np.ascontiguousarray(h["county"])

    def shuffled(r):
        x = county.copy()
        draws.shuffle(r, x)
        return [x]

    compare("shuffle", lambda r: [r.permutation(county)], shuffled)
    n_v = len(v["village_id"])
    scrambled = np.random.default_rng(2).permutation(h["village"])
    compare("sort_by", lambda r: [h["size"][np.argsort(scrambled, kind="stable")]],
            lambda r: draws.sort_by(scrambled, n_v, h["size"],
                                    coarse=v["county"].astype(np.int16))[1])
    counts = np.bincount(v["county"], minlength=reg.n_counties)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    n_poor = np.minimum(counts, np.maximum(counts // 3, 1))
    args = (county, np.full(reg.n_counties, 0.6), first, n_poor, counts - n_poor)
    compare("villages", lambda r: [draws.villages_numpy(r, *args)],
            lambda r: [draws.villages(r, *args)])
    return rows


def main(spec_name: str = "nation", scale: float = 1.0) -> int:
    spec, source = synth.load_spec(spec_name)
    # load the loops on a small nation (a small spec at a small scale may hold
    # too few households to draw), taking them however few the draws
    smallest, draws.COMPILED_FROM = draws.COMPILED_FROM, 0
    try:
        kernel_ratios(synth.build(*synth.load_spec("nation"), scale=0.0005))
    finally:
        draws.COMPILED_FROM = smallest
    before = peak_bytes()
    reg, wall, cpu = timed(lambda: synth.build(spec, source, scale=scale))
    print(f"{spec_name} at scale {scale:g}: {reg.n_households:,} households, "
          f"{reg.nbytes() / 1e9:.2f} GB of tables")
    print(f"build: wall {wall:.2f} s, processor {cpu:.2f} s; peak resident memory "
          f"{peak_bytes() / 1e9:.2f} GB (before the build {before / 1e9:.2f} GB)")
    print(f"{'loop':>10}  {'numpy s':>8}  {'compiled s':>10}  {'ratio':>6}  same")
    same_all = True
    for name, t_numpy, t_compiled, same in kernel_ratios(reg):
        same_all &= same
        print(f"{name:>10}  {t_numpy:8.3f}  {t_compiled:10.3f}  {t_numpy / t_compiled:5.1f}x  "
              f"{'yes' if same else 'NO'}")
    folder = Path(tempfile.mkdtemp(prefix="registry-bench-"))
    try:
        entry = folder / "entry"
        _, t_save, _ = timed(lambda: cache.save(reg, entry))
        loaded, t_load, _ = timed(lambda: cache.load(entry))
        _, t_touch, _ = timed(lambda: [float(c.sum()) for t in cache.TABLES
                                       for c in getattr(loaded, t).values()])
        print(f"cache: save {t_save:.2f} s, load (memory-mapped) {t_load:.3f} s, "
              f"first read of every column {t_touch:.2f} s")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0 if same_all else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m model.tools.registry_bench",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", nargs="?", default="nation",
                        help="registry spec: a name or a .toml file (default nation)")
    parser.add_argument("scale", nargs="?", type=share, default=1.0,
                        help="share of the registry to build (default 1)")
    args = parser.parse_args()
    with tool_errors(parser):
        sys.exit(main(args.spec, args.scale))
