"""The phases of a simulated year, timed (povsim bench --phases)."""

import numpy as np

from model.engine.sim import Simulation
from model.params import Parameters
from model.programmes.measures import instances
from model.registry.synth import synthetic
from model.tools import phases


def test_the_phases_are_the_simulations_own_methods():
    """Each phase the profile times is a method a year calls: renaming one
    would otherwise leave it out of the profile without a word."""
    import inspect

    step = inspect.getsource(Simulation.step) + inspect.getsource(Simulation._components)
    for _, method in phases.PHASES:
        assert f"self.{method}(" in step, method


def test_a_profiled_year_computes_what_any_other_does():
    """The same record, bit for bit, with every phase and programme timed,
    and each of them timed."""
    reg = synthetic(20_000, n_counties=4, seed=5)
    records = []
    for profiled in (False, True):
        sim = Simulation(reg, Parameters.load(), seed=3, end_year=2018, programmes=instances())
        timer = phases.PhaseTimer()
        if profiled:
            timer.attach(sim)
        records.append(sim.run())
    for name, value in vars(records[0]).items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, getattr(records[1], name), err_msg=name)
    assert set(timer.phases) == {label for label, _ in phases.PHASES}
    assert set(timer.programmes) == {(kind, prog.name) for prog in instances()
                                     for kind in ("enrol", "step")}
    assert min(timer.programmes.values()) > 0


def test_a_detached_simulation_is_freed_at_once():
    """Once detached, a profiled simulation goes as soon as nothing refers
    to it (a profile of the national registry holds gigabytes), and its
    methods are its class's again."""
    import gc
    import weakref

    reg = synthetic(5_000, n_counties=2, seed=5)
    sim = Simulation(reg, Parameters.load(), seed=3, end_year=2016, programmes=instances())
    timer = phases.PhaseTimer()
    timer.attach(sim)
    sim.run()
    timer.detach(sim)
    assert "step" not in vars(sim.programmes[0]) and "_tally" not in vars(sim)
    gone = weakref.ref(sim)
    gc.disable()
    try:
        del sim
        assert gone() is None
    finally:
        gc.enable()


def test_the_table_holds_the_year():
    """The phases and what lies outside them add up to the year; each
    programme's step lies within the components, whose rest is what they
    do besides; programmes taking almost no time share a line."""
    timer, total, kernel = phases.profile_year(30_000, 2)
    assert kernel > 0 and total > 0
    enrolment = sum(v for (kind, _), v in timer.programmes.items() if kind == "enrol")
    assert enrolment + sum(timer.phases.values()) <= total * 1.001
    steps = sum(v for (kind, _), v in timer.programmes.items() if kind == "step")
    assert steps <= timer.phases["3. income components"]
    lines = phases.table(timer, 2, total, kernel)
    assert lines[-1].split()[0] == "year"
    assert float(lines[-1].split()[1]) == round(1e3 * total / 2, 1)
    outside = next(line for line in lines if "outside the phases" in line)
    assert float(outside.split()[-2]) >= -0.05  # the phases hold no more than the year
    first = lines.index(next(line for line in lines if "3. income components" in line))
    last = lines.index(next(line for line in lines if "the rest (" in line))
    shown = [line.split()[0] for line in lines[first + 1:last]]
    listed = sum(int(word) if word.isdigit() else 1 for word in shown)
    assert listed == len(instances())  # each programme's step, or among the small ones


def test_the_national_scenarios_years_are_profiled():
    """The national scenario's years, each of its programmes' enrolment
    and step among them, with the kernel on as many households."""
    import dataclasses

    from model.runs import registry_for
    from model.scenario import load_scenario

    timer, n_years, total, kernel, households = phases.profile_national(0.001)
    scenario = load_scenario("national")
    reg = registry_for(dataclasses.replace(scenario, scale=0.001))
    assert n_years == scenario.end_year - reg.base_year and households == reg.n_households
    assert kernel > 0
    enrolment = sum(v for (kind, _), v in timer.programmes.items() if kind == "enrol")
    assert 0 < enrolment + sum(timer.phases.values()) <= total * 1.001
    assert {name for _, name in timer.programmes} == set(scenario.programmes)


def test_povsim_bench_phases_prints_the_table(capsys):
    from model.cli import main

    assert main(["bench", "--phases", "--sizes", "20000", "--repeats", "2", "--national"]) == 0
    out = capsys.readouterr().out
    assert "year phases at 2e+04 households" in out and "national" not in out
    assert "4-5. income and verification" in out and "\n  year " in out
