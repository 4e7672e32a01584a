"""``povsim bench --phases``: where a simulated year's time goes.

The year of :func:`model.tools.bench.bench_year` (households at the national
registry's density, timed in the process's second run) is stepped with each
of its phases timed, in the step order of :mod:`model.engine.sim`: each
programme's enrolment, delivery, the income components (each programme's
step within them), the income update with verification, the tally, village
and county exits, and the record. Each phase is shown in milliseconds a
year and in kernel-times: the time of the income kernel
(:func:`model.engine.kernels.income_update`) on the same households, timed
in the same process just before. The national scenario's years at a
scale (one seed, its second run) are profiled the same way: at 1 %, the
unit of work of calibration and sweeps, a year's costs by county weigh
more than its costs by household.

The phases are timed by wrapping the simulation's own methods and its
programmes' ``enrol`` and ``step`` for the profiled run only: a profiled
year computes what any other does (tested).
"""

from __future__ import annotations

import time
from collections import defaultdict

# the phases of step(), (label, Simulation method), in its order
PHASES = (
    ("2. delivery", "_deliver"),
    ("3. income components", "_components"),
    ("4-5. income and verification", "_income_and_verify"),
    ("6. tally", "_tally"),
    ("6. village exits", "_village_exits"),
    ("6. county exits", "_county_exits"),
    ("7. programme records", "_record_programme"),
    ("7. exits by pathway", "_record_exits"),
)
ENROLMENT = "1. enrolment"


class PhaseTimer:
    """Seconds spent in each phase (:attr:`phases`, by label) and in each
    programme's enrolment and step (:attr:`programmes`, by ``("enrol" or
    "step", name)``), summed over the years stepped. A phase called within
    another (a programme's record within the components) counts in the
    outer one only; a programme's step counts within the components too."""

    def __init__(self):
        self.phases: dict[str, float] = defaultdict(float)
        self.programmes: dict[tuple[str, str], float] = defaultdict(float)
        self._depth = 0

    def wrap(self, owner, method: str, add) -> None:
        """Time ``owner.method`` from now on (on this object only, not its
        class), passing its seconds to ``add(seconds, outermost)``."""
        inner = getattr(owner, method)

        def timed(*args, **kwargs):
            self._depth += 1
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self._depth -= 1
                add(time.perf_counter() - start, self._depth == 0)

        setattr(owner, method, timed)

    def attach(self, sim) -> None:
        """Time the phases of ``sim`` (a :class:`model.engine.sim.Simulation`)
        and each of its programmes' enrolment and step."""
        for label, method in PHASES:
            self.wrap(sim, method, self._adding_phase(label))
        for prog in sim.programmes:
            for kind in ("enrol", "step"):
                self.wrap(prog, kind, self._adding_programme((kind, prog.name)))

    @staticmethod
    def detach(sim) -> None:
        """Stop timing ``sim``: its methods and its programmes' are their
        classes' again. The wrapped methods refer to ``sim``, so until then
        it is freed only by the garbage collector, which large arrays do
        not prompt: a profile detaches before it lets a simulation go."""
        for _, method in PHASES:
            vars(sim).pop(method, None)
        for prog in sim.programmes:
            for kind in ("enrol", "step"):
                vars(prog).pop(kind, None)

    def _adding_phase(self, label: str):
        def add(seconds: float, outermost: bool) -> None:
            if outermost:
                self.phases[label] += seconds
        return add

    def _adding_programme(self, key: tuple[str, str]):
        def add(seconds: float, outermost: bool) -> None:
            self.programmes[key] += seconds
        return add


def profile_year(n: int, years: int) -> tuple[PhaseTimer, float, float]:
    """The phases of ``years`` years after the first at ``n`` households
    (as :func:`model.tools.bench.bench_year`), the mean year (s), and the
    income kernel's seconds on ``n`` households (the fastest of three
    calls, just before)."""
    from model.tools.bench import stepping_simulation

    sim, first = stepping_simulation(n, years)
    kernel = _kernel_seconds(n)
    timer, total = _profile(sim, range(first, first + years))
    return timer, total, kernel


def _profile(sim, years: range) -> tuple[PhaseTimer, float]:
    """Step ``sim`` through ``years`` with its phases timed; the timer and
    the years' seconds. The simulation is detached again at the end."""
    timer = PhaseTimer()
    timer.attach(sim)
    start = time.perf_counter()
    for year in years:
        sim.step(year)
    seconds = time.perf_counter() - start
    timer.detach(sim)
    return timer, seconds


def profile_national(scale: float) -> tuple[PhaseTimer, int, float, float, int]:
    """The phases of the national scenario's years at ``scale``, one seed
    (its second run in this process: the first loads the registry and the
    kernels), the number of years, their seconds, the income kernel's
    seconds on as many households (as :func:`profile_year`) and the
    households."""
    import dataclasses

    from model.engine.sim import Simulation
    from model.programmes.measures import instances
    from model.runs import registry_for
    from model.scenario import load_scenario

    scenario = dataclasses.replace(load_scenario("national"), scale=scale)
    reg = registry_for(scenario)

    def simulation():
        return Simulation(reg, scenario.params_for(0), 0, scenario.end_year,
                          instances(scenario.programmes), scale=scenario.scale)

    simulation().run()
    kernel = _kernel_seconds(reg.n_households)
    sim = simulation()
    sim._record_base_year()
    years = range(sim.base_year + 1, sim.end_year + 1)
    timer, seconds = _profile(sim, years)
    return timer, len(years), seconds, kernel, reg.n_households


def _kernel_seconds(n: int) -> float:
    """The income kernel's time on ``n`` households at the threads set:
    the fastest of three calls, after one that compiles or loads it and
    touches its outputs."""
    from model.engine.kernels import income_update
    from model.tools.bench import fastest_kernel, kernel_arguments

    inputs, out = kernel_arguments(n)
    income_update(*inputs, **out)
    return fastest_kernel(inputs, out)


def table(timer: PhaseTimer, years: int, total: float, kernel: float) -> list[str]:
    """The lines of the phases' table, a year's mean of ``years`` years
    taking ``total`` seconds: each phase in step order with its programmes
    under it (the largest first; those under 0.1 ms a year counted in one
    line), then what no phase holds (the year's context, the loop over the
    programmes) and the year."""
    lines = [f"  {'phase':<42} {'ms/year':>9} {'kernel-times':>13}"]

    def line(label, seconds, indent=""):
        seconds /= years
        lines.append(f"  {indent + label:<42} {1e3 * seconds:9.1f} {seconds / kernel:13.2f}")

    def programmes(kind):
        inner = {name: v for (k, name), v in timer.programmes.items() if k == kind}
        small = {name: v for name, v in inner.items() if v < 1e-4 * years}
        for name, seconds in sorted(inner.items(), key=lambda kv: -kv[1]):
            if name not in small:
                line(name, seconds, "    ")
        if small:
            line(f"{len(small)} more, under 0.1 ms each", sum(small.values()), "    ")
        return sum(inner.values())

    enrolment = sum(v for (kind, _), v in timer.programmes.items() if kind == "enrol")
    line(ENROLMENT, enrolment)
    programmes("enrol")
    held = enrolment
    for label, _ in PHASES:
        seconds = timer.phases.get(label, 0.0)
        held += seconds
        line(label, seconds)
        if label == "3. income components":
            steps = programmes("step")
            line("the rest (pension, row sums, records)", seconds - steps, "    ")
    line("outside the phases", total - held)
    line("year", total)
    return lines


def main(sizes: list[int], years: int, national: list[float] = ()) -> int:
    """Print the table of :func:`profile_year` for each size, then of
    :func:`profile_national` for each scale."""
    import numba

    threads = numba.config.NUMBA_NUM_THREADS
    for n in sizes:
        timer, total, kernel = profile_year(n, years)
        print(f"\nyear phases at {n:.0e} households, {threads} threads: the mean of {years} "
              f"years after the run's first; the kernel (income update alone) "
              f"{1e3 * kernel:.1f} ms")
        print("\n".join(table(timer, years, total, kernel)))
    for scale in national:
        timer, n_years, total, kernel, households = profile_national(scale)
        print(f"\nyear phases of the national scenario at scale {scale:g} ({households:,} "
              f"households), {threads} threads: the mean of its {n_years} years, one seed; the "
              f"kernel on as many households {1e3 * kernel:.2f} ms")
        print("\n".join(table(timer, n_years, total, kernel)))
    return 0
