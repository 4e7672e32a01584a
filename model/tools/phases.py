"""``povsim bench --phases``: where a simulated year's time goes.

The year of :func:`model.tools.bench.bench_year` (households at the national
registry's density, timed in the process's second run) is stepped with each
of its phases timed, in the step order of :mod:`model.engine.sim`: each
programme's enrolment, delivery, the income components (each programme's
step within them), the income update with verification, the tally, village
and county exits, and the record. Each phase is shown in milliseconds a
year and in kernel-times: the time of the income kernel
(:func:`model.engine.kernels.income_update`) on the same households, timed
in the same process just before.

The phases are timed by wrapping the simulation's own methods and its
programmes' ``enrol`` and ``step`` for the profiled run only: a profiled
year computes what any other does (tested).
"""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np

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
    """Seconds spent in each phase, summed over the years stepped; a phase
    called within another (a programme's record within the components)
    counts in the outer one only."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self._depth = 0

    def wrap(self, owner, method: str, label: str) -> None:
        """Time ``owner.method`` as ``label`` from now on (on this object
        only, not its class)."""
        inner = getattr(owner, method)

        def timed(*args, **kwargs):
            self._depth += 1
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0 or label.startswith("  "):
                    self.seconds[label] += time.perf_counter() - start

        setattr(owner, method, timed)

    def attach(self, sim) -> None:
        """Time the phases of ``sim`` (a :class:`model.engine.sim.Simulation`)
        and each of its programmes' enrolment and step."""
        for label, method in PHASES:
            self.wrap(sim, method, label)
        for prog in sim.programmes:
            self.wrap(prog, "enrol", f"  enrol {prog.name}")
            self.wrap(prog, "step", f"  step {prog.name}")


def profile_year(n: int, years: int) -> tuple[dict[str, float], float, float]:
    """The mean seconds a year of each phase over ``years`` years after the
    first at ``n`` households (as :func:`model.tools.bench.bench_year`), the
    mean year, and the income kernel's seconds on ``n`` households (the
    fastest of three calls, just before)."""
    from model.engine.kernels import income_update
    from model.tools.bench import _stepping_simulation, kernel_arguments

    sim, first = _stepping_simulation(n, years)
    inputs, out = kernel_arguments(n)
    income_update(*inputs, **out)  # compiled or loaded, the outputs touched
    kernel = np.inf
    for _ in range(3):
        start = time.perf_counter()
        income_update(*inputs, **out)
        kernel = min(kernel, time.perf_counter() - start)
    del inputs, out
    timer = PhaseTimer()
    timer.attach(sim)
    total = 0.0
    for year in range(first, first + years):
        start = time.perf_counter()
        sim.step(year)
        total += time.perf_counter() - start
    return {k: v / years for k, v in timer.seconds.items()}, total / years, kernel


def table(phases: dict[str, float], year: float, kernel: float) -> list[str]:
    """The lines of the phases' table: each phase in step order with its
    programmes under it (the largest first; those under 0.1 ms a year
    counted in one line), then what no phase holds (the year's context,
    the loop over the programmes) and the year."""
    lines = [f"  {'phase':<42} {'ms/year':>9} {'kernel-times':>13}"]

    def line(label, seconds, indent=""):
        lines.append(f"  {indent + label:<42} {1e3 * seconds:9.1f} {seconds / kernel:13.2f}")

    def programmes(prefix):
        inner = {k.strip()[len(prefix):]: v for k, v in phases.items()
                 if k.startswith("  " + prefix)}
        small = {k: v for k, v in inner.items() if v < 1e-4}
        for name, seconds in sorted(inner.items(), key=lambda kv: -kv[1]):
            if name not in small:
                line(name, seconds, "    ")
        if small:
            line(f"{len(small)} more, under 0.1 ms each", sum(small.values()), "    ")
        return sum(inner.values())

    enrolment = sum(v for k, v in phases.items() if k.startswith("  enrol "))
    line(ENROLMENT, enrolment)
    programmes("enrol ")
    held = enrolment
    for label, _ in PHASES:
        seconds = phases.get(label, 0.0)
        held += seconds
        line(label, seconds)
        if label == "3. income components":
            steps = programmes("step ")
            line("the rest (pension, row sums, records)", seconds - steps, "    ")
    line("outside the phases", year - held)
    line("year", year)
    return lines


def main(sizes: list[int], years: int) -> int:
    """Print the table of :func:`profile_year` for each size."""
    import numba

    for n in sizes:
        phases, year, kernel = profile_year(n, years)
        print(f"\nyear phases at {n:.0e} households, {numba.config.NUMBA_NUM_THREADS} threads: "
              f"the mean of {years} years after the run's first; the kernel (income update "
              f"alone) {1e3 * kernel:.1f} ms")
        print("\n".join(table(phases, year, kernel)))
    return 0
