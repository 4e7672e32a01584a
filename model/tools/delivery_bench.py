"""Run time of one year of in-year delivery (:mod:`model.engine.delivery`).

``python -m model.tools.delivery_bench SCENARIO`` prints the delivery model's share
of a whole run's time. ``python -m model.tools.delivery_bench [COUNTIES]
[PROGRAMMES]`` prints the median wall time of :func:`model.engine.delivery.deliver` for ``COUNTIES`` x
``PROGRAMMES`` (default 832 x 12: China's poverty counties, a dozen
programmes) under the declared default settings, under instant settings and
under those of the Xiangxi scenario and its two delivery variants.

Inputs are synthetic: about 300 enrolments per county and programme (Poisson),
50 to 300 villages per county, a budget of 10,000 yuan per enrolment.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from model.cli import positive, tool_errors
from model.engine.delivery import Settings, deliver, settings_from_params
from model.params import Parameters
from model.programmes.measures import PROGRAMMES
from model.scenario import load_scenario

# scenario variants of Xiangxi's delivery settings (scenarios/*.toml)
VARIANTS = ("xiangxi-late-funds", "xiangxi-fewer-teams")


def delivery_parameters() -> Parameters:
    """The declared parameters (``model/parameters.toml``), delivery included."""
    return Parameters.load()


def programme_names(params: Parameters) -> list[str]:
    """Programmes with a declared build time, in declaration order (sorted)."""
    suffix = ".build_months"
    return sorted(n[:-len(suffix)] for n in params.names() if n.endswith(suffix))


def settings_for(params: Parameters, programmes: list[str], year: int = 2016) -> Settings:
    """Settings of ``year`` from ``params`` (``p(name)`` as in the engine)."""
    return settings_from_params(lambda name: params.at(name, year), programmes)


def bench_inputs(n_counties: int, n_programmes: int, seed: int = 0):
    """Synthetic ``(enrolments, budget, villages)`` for a benchmark year."""
    rng = np.random.default_rng(seed)
    enrolments = rng.poisson(300, (n_counties, n_programmes))
    budget = 10_000.0 * enrolments
    villages = rng.integers(50, 301, n_counties)
    return enrolments, budget, villages


def time_delivery(n_counties: int = 832, n_programmes: int = 12, repeats: int = 5,
                  settings: Settings | None = None) -> float:
    """Median wall time (s) of one :func:`deliver` call for the given size."""
    params = delivery_parameters()
    names = (programme_names(params) * n_programmes)[:n_programmes]
    settings = settings or settings_for(params, names)
    enrolments, budget, villages = bench_inputs(n_counties, n_programmes)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        deliver(2016, enrolments, budget, settings, seed=1, villages=villages)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def engine_share(scenario_name: str = "xiangxi", seed: int = 0) -> None:
    """Print the delivery model's share of a whole run's wall time, and the
    run time against the same run without delivery (same process, warm)."""
    from model.engine.sim import Simulation
    from model.runs import registry_for
    from model.scenario import load_scenario

    scenario = load_scenario(scenario_name)
    registry = registry_for(scenario)
    programmes = [c() for c in PROGRAMMES if c.name in scenario.programmes]
    off = scenario.params.with_overlay({"delivery.enabled": 0}, source="bench")
    timings = {}
    for label, params in (("warm-up", scenario.params), ("without delivery", off),
                          ("with delivery", scenario.params)):
        sim = Simulation(registry, params, seed, scenario.end_year,
                         [type(p)() for p in programmes], scale=scenario.scale)
        start = time.perf_counter()
        sim.run()
        timings[label] = (time.perf_counter() - start, sim.delivery_seconds)
    total, inside = timings["with delivery"]
    print(f"{scenario_name}: {registry.n_households:,} households, {registry.n_counties} "
          f"counties, {scenario.end_year - registry.base_year} years")
    print(f"  run with delivery {total:.2f} s, of which delivery {inside:.3f} s "
          f"({inside / total:.1%}); without delivery {timings['without delivery'][0]:.2f} s "
          f"(ratio {total / timings['without delivery'][0]:.2f})")


def _is_number(text: str) -> bool:
    """Whether an argument is a number (of counties) rather than a scenario."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m model.tools.delivery_bench",
        description="The delivery model's share of a scenario's run (SCENARIO), or the "
                    "time of one year of delivery for COUNTIES x PROGRAMMES (default 832 x 12).")
    parser.add_argument("first", nargs="?", metavar="SCENARIO | COUNTIES",
                        help="a scenario (name or .toml file), or a number of counties")
    parser.add_argument("programmes", nargs="?", type=positive, metavar="PROGRAMMES",
                        help="programmes, after COUNTIES (default 12)")
    args = parser.parse_args(argv)
    if args.first is not None and not _is_number(args.first):
        if args.programmes is not None:
            parser.error(f"PROGRAMMES goes with COUNTIES, not with the scenario {args.first!r}")
        with tool_errors(parser):
            engine_share(args.first)
        return
    try:
        nc = 832 if args.first is None else positive(args.first)
    except argparse.ArgumentTypeError as error:
        parser.error(f"argument COUNTIES: {error}")
    npr = 12 if args.programmes is None else args.programmes
    params = delivery_parameters()
    names = (programme_names(params) * npr)[:npr]
    cases = {"default": settings_for(params, names), "instant": Settings.instant(npr)}
    for variant in ("xiangxi",) + VARIANTS:  # delivery settings of the scenario files
        cases[variant] = settings_for(load_scenario(variant).params, names)
    enrolments, budget, villages = bench_inputs(nc, npr)
    print(f"delivery, one year, {nc} counties x {npr} programmes "
          f"({int(enrolments.sum()):,} enrolments)")
    for name, settings in cases.items():
        seconds = time_delivery(nc, npr, settings=settings)
        r = deliver(2016, enrolments, budget, settings, seed=1, villages=villages)
        share = r.in_effect.sum() / enrolments.sum()
        print(f"  {name:20s} {seconds:6.3f} s   in effect {share:6.1%}"
              f"   household-years {r.household_years.sum() / enrolments.sum():6.1%}"
              f"   unspent {r.unspent.sum() / budget.sum():6.1%}")


if __name__ == "__main__":
    main()
