"""Where a calibration trial's time goes (a benchmark, not a test).

``python -m model.calibration.speed [TARGETS] [--scale F] [--seeds K] [--repeats R]``
builds the targets' scenario at the scale, then times, per seed: the
simulation proper (the yearly loop), turning its record into a dataset, and
computing the moments; and once: building the registry and the first run of a
process (numba kernels loaded from the cache or compiled). It prints each
part's share of a trial and the trials per minute one worker can do.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def measure(targets_path: str, scale: float, seeds: int, repeats: int) -> dict[str, float]:
    from model import runs
    from model.calibration import fit as fitting
    from model.calibration import moments as mom
    from model.calibration.targets import load_targets
    from model.engine.sim import Simulation
    from model.programmes.measures import instances
    from model.results import to_dataset

    targets = load_targets(targets_path)
    start = time.perf_counter()
    scenario = fitting.problem_scenario(targets, scale)   # builds the registry
    registry = runs.registry_for(scenario)
    t_registry = time.perf_counter() - start
    start = time.perf_counter()
    runs.run_one(scenario, 0)
    t_first = time.perf_counter() - start
    parts = {"simulation": [], "dataset": [], "moments": []}
    for _ in range(repeats):
        for seed in range(seeds):
            programmes = instances(scenario.programmes)
            t0 = time.perf_counter()
            sim = Simulation(registry, scenario.params_for(seed), seed, scenario.end_year,
                             programmes, scale=scenario.scale)
            record = sim.run()
            t1 = time.perf_counter()
            ds = to_dataset(record, registry, scenario, seed, [p.name for p in programmes])
            t2 = time.perf_counter()
            mom.simulate(ds, targets.moments)
            t3 = time.perf_counter()
            parts["simulation"].append(t1 - t0)
            parts["dataset"].append(t2 - t1)
            parts["moments"].append(t3 - t2)
    per_seed = {k: float(np.median(v)) for k, v in parts.items()}
    trial = seeds * sum(per_seed.values())
    return {"households": float(len(registry.households["hh_id"])), "registry": t_registry,
            "first_run": t_first, **per_seed, "trial": trial,
            "trials_per_minute_one_worker": 60 / trial}


def main(argv=None) -> int:
    from model.cli import positive, share, tool_errors

    parser = argparse.ArgumentParser(prog="python -m model.calibration.speed",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="?", default="calibration/targets.toml",
                        help="targets file (default calibration/targets.toml)")
    parser.add_argument("--scale", type=share, default=0.01,
                        help="share of the registry simulated (default 0.01)")
    parser.add_argument("--seeds", type=positive, default=2, help="seeds a trial (default 2)")
    parser.add_argument("--repeats", type=positive, default=3,
                        help="timed repeats of each seed (default 3)")
    args = parser.parse_args(argv)
    with tool_errors(parser):
        m = measure(args.targets, args.scale, args.seeds, args.repeats)
    trial = m["trial"]
    print(f"{args.targets} at scale {args.scale:g}: {m['households']:,.0f} households, "
          f"{args.seeds} seed(s) a trial")
    print(f"once a process: registry {m['registry']:.2f} s, first run {m['first_run']:.2f} s")
    for k in ("simulation", "dataset", "moments"):
        print(f"per seed: {k:<10} {m[k]:.3f} s  ({100 * args.seeds * m[k] / trial:.0f} % of a "
              "trial)")
    print(f"trial {trial:.2f} s: {m['trials_per_minute_one_worker']:.1f} trials/minute per "
          "worker")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
