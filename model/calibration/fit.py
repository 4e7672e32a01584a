"""Simulated method of moments: fit the free parameters to the observed moments.

A trial sets every free parameter (declared with a ``calibrate`` prior in
``model/parameters.toml``) to a value proposed by Optuna's TPE sampler,
runs the targets' scenario at the chosen scale up to the last moment year
with the same seeds as every other trial (common random numbers), and scores
the mean over seeds of each simulated moment against its observation:

    distance = sum over fitted moments of ((simulated - observed) / sd) ** 2

with ``sd`` the observation's standard deviation
(:mod:`model.calibration.targets`). Nothing else may move: parameters without
a prior keep the scenario's values. The first trial is the scenario's own
parameter values (clipped into the priors), so the fit is never worse than
the starting point.

The objective adds a weak prior to the distance (penalised SMM):

    objective = distance + sum over free parameters of ((u - u0) / PRIOR_SD) ** 2

with ``u`` a parameter's place in its prior range on the prior's scale (0 at
the low end, 1 at the high end) and ``u0`` the place of its value in the
scenario the fit starts from: the declared value, or the value of an earlier
fit the scenario builds on (:func:`usable_fit`; an area fit starts from the
national fit).
Eight moments cannot identify thirty free parameters: without the prior,
the parameters the moments do not pin down wander to corners of their
ranges, and a fit to the early years then forecasts the later ones from
wherever they landed. With it, they stay near their starting values (each
declared with a reference) unless the moments ask otherwise; moving one parameter
across its whole range costs as much as missing a moment by two standard
deviations.

Trials run in parallel on a local Dask cluster (the one ``povsim compare``
starts, :func:`model.runs._cluster`), one task per trial. The study is
an Optuna journal file: a study that was killed is resumed with
``resume=True`` without repeating its finished trials; trials left running
by the killed process are marked failed and their parameters tried again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from model import runs
from model.calibration import moments as mom
from model.calibration.targets import Moment, Targets
from model.errors import PovsimError
from model.scenario import Scenario, load_scenario

FAILED_DISTANCE = 1e12   # a trial whose fitted moments are undefined (e.g. no exits at all)
PRIOR_SD = 0.5           # sd of the weak prior, as a share of each prior range on its scale


@dataclass(frozen=True)
class Free:
    """A free parameter: its prior range and scale."""

    name: str
    low: float
    high: float
    log: bool

    def grid(self, n: int) -> np.ndarray:
        """``n`` points spanning the prior (evenly on its scale)."""
        if self.log:
            return np.geomspace(self.low, self.high, n)
        return np.linspace(self.low, self.high, n)

    def clip(self, value: float) -> float:
        return float(min(max(value, self.low), self.high))

    def position(self, value: float) -> float:
        """Place of ``value`` in the prior range on its scale (0 low, 1 high)."""
        if self.log:
            return math.log(value / self.low) / math.log(self.high / self.low)
        return (value - self.low) / (self.high - self.low)

    def value(self, position: float) -> float:
        """The value at ``position`` of the prior range on its scale: the
        inverse of :meth:`position`."""
        if self.log:
            return float(self.low * (self.high / self.low) ** position)
        return float(self.low + position * (self.high - self.low))


def prior_penalty(values: dict[str, float], centre: dict[str, float], free: list[Free]) -> float:
    """The weak prior's term of the objective (see the module docstring)."""
    return float(sum(((f.position(values[f.name]) - f.position(centre[f.name])) / PRIOR_SD) ** 2
                     for f in free))


def objective(simulated: np.ndarray, values: dict[str, float], centre: dict[str, float],
              free: list[Free], moments) -> tuple[float, float, float]:
    """``(moment distance, prior penalty, objective)`` of one parameter vector:
    the objective a fit minimises is their sum, capped at
    :data:`FAILED_DISTANCE`. ``simulated``: its moments (:func:`evaluate`);
    ``centre``: the prior's centre (:func:`declared_values`)."""
    d = distance(simulated, moments)
    penalty = prior_penalty(values, centre, free)
    return d, penalty, min(d + penalty, FAILED_DISTANCE)


def declared_values(scenario: Scenario, free: list[Free]) -> dict[str, float]:
    """The scenario's own values of the free parameters, clipped into their priors."""
    return {f.name: f.clip(scenario.params.scalar(f.name, scenario.end_year)) for f in free}


def free_parameters(scenario: Scenario) -> list[Free]:
    """The scenario's free parameters (scalar ones with a prior).

    Raises
    ------
    PovsimError
        When none is declared, or one is not a single number.
    """
    out = []
    for name in scenario.params.free_names():
        decl = scenario.params.declaration(name)
        if decl.shape != ():
            raise PovsimError(f"model/parameters.toml: free parameter '{name}' is a list: only "
                              "single numbers can be fitted")
        out.append(Free(name, decl.prior[0], decl.prior[1], decl.prior_scale == "log"))
    if not out:
        raise PovsimError("model/parameters.toml declares no free parameter (calibrate = "
                          "{ prior = [low, high] })")
    return out


def usable_fit(targets: Targets, name: str | None = None):
    """Which fit files the targets' scenario may keep when it is fitted
    (for :func:`model.scenario.load_scenario`): a fit to no later year than
    the targets' ``fit_until`` and not the fit being made (``name``,
    default: the scenario's name). A national refit thus starts from the
    declared values, an area fit from the national fit, and a back-test fit
    to 2015 never from a fit that saw 2016."""
    own = name or targets.scenario

    def keep(fit_name: str, provenance: dict) -> bool:
        return fit_name != own and int(provenance.get("end_year", 10**4)) <= targets.fit_until
    return keep


def problem_scenario(targets: Targets, scale: float | None = None,
                     name: str | None = None) -> Scenario:
    """The targets' scenario at ``scale`` (default: its own), run to the last
    moment year (at least one year after the registry's base year), with only
    the fit files it may build on (:func:`usable_fit`)."""
    from model.runs import registry_for

    scenario = load_scenario(targets.scenario, fits=usable_fit(targets, name))
    scenario = dataclasses.replace(scenario, scale=float(scale or scenario.scale))
    first = registry_for(scenario).base_year + 1
    return dataclasses.replace(scenario, end_year=max(targets.last_year, first))


def with_values(scenario: Scenario, values: dict[str, float], label: str) -> Scenario:
    """``scenario`` with the free parameters set to ``values``."""
    return dataclasses.replace(scenario, params=scenario.params.with_overlay(
        {k: float(v) for k, v in values.items()}, label))


def evaluate(scenario: Scenario, values: dict[str, float], seeds: tuple[int, ...],
             moments: tuple[Moment, ...], threads: int | None = None) -> np.ndarray:
    """Simulated moments of one parameter vector: shape ``(n_moments, n_seeds)``.

    A plain function of its arguments (run in a worker process of the
    cluster); the same seeds give the same numbers whatever the worker.
    """
    trial = with_values(scenario, values, "calibration trial")
    parts = [mom.simulate(runs.run_one(trial, seed, threads), moments) for seed in seeds]
    return np.concatenate(parts, axis=1)


def distance(simulated: np.ndarray, moments: Iterable[Moment]) -> float:
    """Uncertainty-weighted distance of the seed means to the fitted moments.

    Parameters
    ----------
    simulated : numpy.ndarray
        ``(n_moments, n_seeds)`` in the moments' units.
    moments : sequence of Moment
        The same moments, in order; only role ``fit`` counts.

    Returns
    -------
    float
        Sum of squared standardised differences; :data:`FAILED_DISTANCE`
        when a fitted moment is undefined.
    """
    total = 0.0
    for k, m in enumerate(moments):
        if m.role != "fit":
            continue
        value = float(np.mean(simulated[k]))
        if not math.isfinite(value):
            return FAILED_DISTANCE
        total += ((value - m.value) / m.sd) ** 2
    return total


# ---------------------------------------------------------------- pool of workers

class _Done:
    def __init__(self, value):
        self._value = value

    def result(self):
        return self._value


class Pool:
    """Tasks on a local Dask cluster (``workers`` > 1) or in this process.

    Use as a context manager; :meth:`submit` returns a future, :meth:`wait`
    yields futures as they complete.
    """

    def __init__(self, workers: int):
        self.workers = max(1, int(workers))
        self.threads = max(1, runs.cores() // self.workers)
        self._context = None
        self.client = None

    def __enter__(self) -> Pool:
        runs.compile_kernels_first()  # the first run after install: before the workers
        if self.workers > 1:
            self._context = runs._cluster(self.workers)
            self.client = self._context.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._context is not None:
            self._context.__exit__(*exc)

    def submit(self, fn: Callable, *args):
        if self.client is None:
            return _Done(fn(*args))
        return self.client.submit(fn, *args, pure=False)

    def wait(self, futures: Iterable):
        futures = list(futures)
        if self.client is None:
            yield from futures
            return
        from distributed import as_completed
        yield from as_completed(futures)

    def map(self, fn: Callable, arg_lists: list[tuple]) -> list:
        """``fn(*args)`` for each, in order."""
        futures = [self.submit(fn, *args) for args in arg_lists]
        index = {id(f): k for k, f in enumerate(futures)}
        out: list[Any] = [None] * len(futures)
        for future in self.wait(futures):
            out[index[id(future)]] = future.result()
        return out


# ---------------------------------------------------------------- the study

def _quiet_optuna() -> None:
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("optuna").setLevel(logging.WARNING)


def open_study(path: Path, name: str, config: dict, resume: bool):
    """Create, or reopen with ``resume``, the study journal at ``path``.

    The study records ``config`` (targets hash, seeds, scale, free
    parameters); resuming with a different one is an error, so that trials
    of two problems never mix.
    """
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    _quiet_optuna()
    exists = path.is_file() and path.stat().st_size > 0
    if exists and not resume:
        raise PovsimError(f"study {path} exists: pass --resume to continue it, or another --name")
    if resume and not exists:
        raise PovsimError(f"--resume: no study at {path} (run without --resume first)")
    path.parent.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(str(path)))
    sampler = optuna.samplers.TPESampler(seed=int(config["sampler_seed"]), multivariate=True,
                                         n_startup_trials=int(config["startup_trials"]))
    study = optuna.create_study(study_name=name, storage=storage, sampler=sampler,
                                direction="minimize", load_if_exists=True)
    if exists:
        stored = study.user_attrs.get("config")
        if stored != config:
            changed = sorted(k for k in set(stored or {}) | set(config)
                             if (stored or {}).get(k) != config.get(k))
            raise PovsimError(f"--resume: study {path} was made for another problem (differs in "
                              f"{', '.join(changed)}): use the same targets, seeds and scale, "
                              "or another --name")
    else:
        study.set_user_attr("config", config)
    return study


def recover(study) -> int:
    """Mark trials left running by a killed process failed and queue their
    parameters again; return how many."""
    import optuna

    stale = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for t in stale:
        study.tell(t.number, state=optuna.trial.TrialState.FAIL)
        study.enqueue_trial(dict(t.params), skip_if_exists=True)
    return len(stale)


def completed(study) -> list:
    import optuna
    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))


@dataclass
class StudyResult:
    """What :func:`optimise` returns: the study and this call's trial count."""

    study: Any
    evaluated: int
    recovered: int


def optimise(study, scenario: Scenario, free: list[Free], seeds: tuple[int, ...],
             moments: tuple[Moment, ...], n_trials: int, pool: Pool,
             progress: bool = True, warm: tuple[dict[str, float], ...] = ()) -> StudyResult:
    """Run trials until the study holds ``n_trials`` completed ones.

    Each trial's simulated moments (mean and standard deviation over seeds)
    are stored as trial attributes, so reports need no rerun. A new study's
    first trial is the scenario's declared values; the vectors ``warm``
    (:func:`warm_start`) follow it.
    """
    import optuna
    from optuna.distributions import FloatDistribution
    from model.progress import bar as progress_bar

    recovered = recover(study)
    done = len(completed(study))
    start = declared_values(scenario, free)
    if done == 0 and not study.get_trials(deepcopy=False):
        study.enqueue_trial(start)
        for values in warm:
            study.enqueue_trial(values)
    space = {f.name: FloatDistribution(f.low, f.high, log=f.log) for f in free}
    todo = max(0, n_trials - done)
    evaluated = 0
    best = _best(study)
    in_flight: dict[Any, Any] = {}
    with progress_bar(n_trials, progress, initial=done, desc="trials", unit="trial",
                      dynamic_ncols=True) as bar:
        if best is not None:
            bar.set_postfix(best=f"{best:.4g}")
        submitted = 0
        while submitted < todo or in_flight:
            while submitted < todo and len(in_flight) < pool.workers:
                trial = study.ask(space)
                values = {f.name: trial.params[f.name] for f in free}
                future = pool.submit(evaluate, scenario, values, seeds, moments, pool.threads)
                in_flight[future] = trial
                submitted += 1
                if pool.client is None:
                    break
            for future in pool.wait(list(in_flight)):
                trial = in_flight.pop(future)
                try:
                    simulated = future.result()
                except PovsimError:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    raise
                moment_distance, penalty, d = objective(simulated, trial.params, start, free,
                                                        moments)
                trial.set_user_attr("mean", _floats(simulated.mean(axis=1)))
                trial.set_user_attr("sd", _floats(simulated.std(axis=1)))
                trial.set_user_attr("moment_distance", moment_distance)
                trial.set_user_attr("prior_penalty", penalty)
                study.tell(trial, d)
                evaluated += 1
                best = d if best is None else min(best, d)
                bar.set_postfix(best=f"{best:.4g}")
                bar.update()
                break   # refill the workers before waiting again
    return StudyResult(study, evaluated, recovered)


def warm_start(fit: dict, free: list[Free], declared: dict[str, float]) -> tuple[dict, ...]:
    """The optimum and the accepted vectors of a fit (:func:`posterior.read_fit`)
    as trials of a new study: each free parameter the fit lacks takes its
    declared value, each value is clipped to its prior range, and repeated
    vectors are dropped."""
    vectors = [fit["parameters"]] + [a["parameters"] for a in fit["fit"].get("accepted", [])]
    out, seen = [], set()
    for vector in vectors:
        values = {f.name: float(min(max(vector.get(f.name, declared[f.name]), f.low), f.high))
                  for f in free}
        key = tuple(values.values())
        if key not in seen:
            seen.add(key)
            out.append(values)
    return tuple(out)


def _floats(values) -> list:
    return [None if not math.isfinite(float(v)) else float(v) for v in values]


def _best(study) -> float | None:
    trials = completed(study)
    return min(t.value for t in trials) if trials else None


def trial_table(study, free: list[Free]) -> dict[str, np.ndarray]:
    """Completed trials: ``number``, ``distance`` (the objective),
    ``moment_distance`` (without the prior) and one column per parameter."""
    trials = sorted(completed(study), key=lambda t: t.number)
    table = {"number": np.array([t.number for t in trials]),
             "distance": np.array([t.value for t in trials], float),
             "moment_distance": np.array([t.user_attrs.get("moment_distance", t.value)
                                          for t in trials], float)}
    for f in free:
        table[f.name] = np.array([t.params[f.name] for t in trials], float)
    return table


def study_config(targets: Targets, scenario: Scenario, free: list[Free], seeds, scale: float,
                 sampler_seed: int = 0, startup_trials: int = 10) -> dict:
    """What identifies a study's problem (compared on ``--resume``)."""
    return {"targets_sha256": targets.sha256, "fit_until": int(targets.fit_until),
            "moments": [m.name for m in targets.fitted], "scenario": scenario.name,
            "seeds": [int(s) for s in seeds], "scale": float(scale),
            "end_year": int(scenario.end_year),
            "free": [[f.name, f.low, f.high, f.log] for f in free],
            "prior_centre": declared_values(scenario, free), "prior_sd": PRIOR_SD,
            "sampler_seed": int(sampler_seed), "startup_trials": int(startup_trials)}


def profile(scenario: Scenario, best: dict[str, float], free: list[Free], seeds,
            moments, pool: Pool, points: int = 5) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """One-at-a-time profile of the distance around the optimum.

    For each free parameter, ``points`` values spanning its prior (plus the
    optimum), the others held at the optimum, the same seeds.

    Returns
    -------
    dict
        ``{name: (values, distances)}``, values sorted.
    """
    tasks, keys = [], []
    for f in free:
        grid = sorted(set(f.grid(points).tolist()) | {best[f.name]})
        for v in grid:
            values = dict(best)
            values[f.name] = v
            tasks.append((scenario, values, tuple(seeds), tuple(moments), pool.threads))
            keys.append((f.name, v))
    results = pool.map(evaluate, tasks)
    out: dict[str, tuple[list, list]] = {f.name: ([], []) for f in free}
    for (name, v), simulated in zip(keys, results):
        out[name][0].append(v)
        out[name][1].append(distance(simulated, moments))
    return {k: (np.array(v), np.array(d)) for k, (v, d) in out.items()}


def identified(profile_: dict[str, tuple[np.ndarray, np.ndarray]],
               threshold: float = 1.0) -> dict[str, bool]:
    """A parameter is flagged non-identified when moving it across its whole
    prior changes the distance by less than ``threshold`` (one unit: what a
    one-standard-deviation miss of a single moment costs)."""
    out = {}
    for name, (_, d) in profile_.items():
        finite = d[np.isfinite(d) & (d < FAILED_DISTANCE)]
        out[name] = bool(finite.size and finite.max() - finite.min() >= threshold)
    return out


def without_effect(profile_: dict[str, tuple[np.ndarray, np.ndarray]]) -> list[str]:
    """Parameters the fitted moments do not depend on at all: every point of
    the profile gives the same distance (same seeds, so a parameter that acts
    only after the fitted years changes nothing, to the last bit)."""
    return [name for name, (_, d) in profile_.items()
            if d.size > 1 and np.all(np.isfinite(d)) and np.all(d == d[0])]


def to_json(values: dict) -> str:
    return json.dumps({k: float(v) for k, v in values.items()}, sort_keys=True)
