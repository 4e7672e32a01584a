"""``povsim calibrate``: fit, accepted set, profile, band split, fit file and report.

Files written (``NAME`` defaults to the targets' scenario name):

- ``calibration/fits/NAME.toml``: the fit (a scenario overlay with provenance
  and the accepted vectors, :mod:`model.calibration.posterior`);
- ``calibration/fits/NAME/fit.md``, ``fit.png``, ``profile.png``: the report;
- ``outputs/calibrate-NAME/study.journal``: the Optuna study (for ``--resume``).
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model import runs
from model.calibration import fit as fitting
from model.calibration import mcmc, posterior, report
from model.calibration import moments as mom
from model.calibration.targets import Targets, load_targets
from model.errors import PovsimError
from model.scenario import Scenario, load_scenario


@dataclass
class Outcome:
    """What :func:`calibrate` did: the fit file, report, trial counts, the
    best distance, the moments table and the speed."""

    fit_path: Path
    report_path: Path
    completed_before: int
    evaluated: int
    recovered: int
    completed_after: int
    distance: float
    moments_table: str
    trials_per_minute: float


def with_draws(scenario: Scenario, vectors: list[dict]) -> Scenario:
    """``scenario`` whose seed ``i`` uses ``vectors[i mod n]``."""
    draws = tuple(scenario.params.with_overlay(v, f"accepted vector {k}")
                  for k, v in enumerate(vectors))
    return dataclasses.replace(scenario, draws=draws)


def _band(pool, base: Scenario, best: dict, vectors: list[dict], seeds) -> dict:
    fixed = fitting.with_values(base, best, "best fit")
    drawn = with_draws(fixed, vectors)
    tasks = [(s, seed, pool.threads) for s in (fixed, drawn) for seed in seeds]
    parts = pool.map(runs.run_one, tasks)
    n = len(seeds)
    a, b = runs.concat_seeds(parts[:n]), runs.concat_seeds(parts[n:])
    return {"survey headcount (persons)":
            posterior.band_split(a, b, mom.QUANTITIES["survey_headcount"].fn),
            "registered poor (persons)":
            posterior.band_split(a, b, mom.QUANTITIES["registered_people"].fn)}


def calibrate(targets: str | Path | Targets, trials: int = 50, seeds: int = 2,
              scale: float | None = None, workers: int | None = None, resume: bool = False,
              name: str | None = None, fits: Path | None = None, study_dir: Path | None = None,
              profile_points: int = 5, band_seeds: int = 8, max_accepted: int = 50,
              mcmc_steps: int = 0, start_from: str | Path | None = None,
              progress: bool = True, echo=print) -> Outcome:
    """Fit the free parameters to ``targets`` and write the fit and its report.

    Parameters
    ----------
    targets : path or Targets
        The targets file (:mod:`model.calibration.targets`).
    trials : int
        Completed trials the study should hold at the end (a resumed study
        counts the ones it has).
    seeds : int
        Seeds ``0 .. seeds-1``, the same for every trial.
    scale : float, optional
        Share of households simulated (default: the scenario's).
    workers : int, optional
        Worker processes (default: one per core); 1 runs in this process.
    resume : bool
        Continue the study of the same name.
    name : str, optional
        Fit name (default: the targets' scenario name).
    fits, study_dir : Path, optional
        Folders for the fit files (default ``calibration/fits``) and the
        study (default ``outputs/calibrate-NAME``).
    profile_points : int
        Points of each parameter's profile (0: no profile).
    band_seeds : int
        Seeds of the band split to the scenario's end year (0: none).
    max_accepted : int
        At most this many accepted vectors are kept.
    mcmc_steps : int
        Steps of a Metropolis chain per worker from the best trials
        (:mod:`model.calibration.mcmc`); its draws are the accepted set. 0:
        the accepted set is the trials within the chi-square tolerance.
    start_from : str or Path, optional
        A fit (name or file) whose optimum and accepted vectors are a new
        study's first trials after the declared values: a refit after a
        change of the code starts where the last fit ended. The objective's
        prior stays centred on the declared values.
    """
    targets = targets if isinstance(targets, Targets) else load_targets(targets)
    scenario = fitting.problem_scenario(targets, scale, name)
    free = fitting.free_parameters(scenario)
    declared = fitting.declared_values(scenario, free)
    seed_list = tuple(range(seeds))
    name = name or scenario.name
    fits = Path(fits) if fits is not None else posterior.fits_folder()
    study_dir = Path(study_dir) if study_dir is not None else Path("outputs") / f"calibrate-{name}"
    config = fitting.study_config(targets, scenario, free, seed_list, scenario.scale)
    warm = ()
    if start_from is not None:
        warm = fitting.warm_start(posterior.read_fit(posterior.find_fit(str(start_from), fits)),
                                  free, declared)
    study = fitting.open_study(study_dir / "study.journal", name, config, resume)
    held_trials = len(study.get_trials(deepcopy=False))
    if warm and held_trials:
        raise PovsimError(f"--start-from {start_from}: it seeds a new study, but "
                          f"{study_dir / 'study.journal'} already holds {held_trials} trials: "
                          "drop --start-from to continue that study with --resume, or pass "
                          "another --name")
    before = len(fitting.completed(study))
    workers = workers or runs.cores()
    moments = targets.moments
    with fitting.Pool(workers) as pool:
        start = time.perf_counter()
        result = fitting.optimise(study, scenario, free, seed_list, moments, trials, pool,
                                  progress, warm)
        elapsed = time.perf_counter() - start
        rate = 60 * result.evaluated / elapsed if result.evaluated and elapsed > 0 else float("nan")
        table = fitting.trial_table(study, free)
        best_trial = study.best_trial
        best = {f.name: float(best_trial.params[f.name]) for f in free}
        best_from = f"trial {best_trial.number}"
        accepted = posterior.accepted(table, [f.name for f in free], max_accepted)
        prof = ident = None
        if profile_points:     # around the best trial; it also scales the draws' steps
            echo(f"profile: {len(free)} parameters x {profile_points}+1 points")
            prof = fitting.profile(scenario, best, free, seed_list, moments, pool,
                                   profile_points)
            ident = fitting.identified(prof)
        profiled_at = dict(best)
        chain = None
        if mcmc_steps:
            chains = max(2, pool.workers)
            echo(f"parameter draws: {chains} Metropolis chains x {mcmc_steps} steps")
            starts = [a["parameters"] for a in accepted[:chains]]
            starts += [best] * (chains - len(starts))
            from model.progress import bar as progress_bar
            with progress_bar(chains * (mcmc_steps + 1), progress, desc="draws",
                              unit="run", dynamic_ncols=True) as shown:
                scales = (mcmc.scales_from_profile(prof, best, free, fitting.PRIOR_SD)
                          if prof is not None else None)
                chain = mcmc.walk(_objective(pool, scenario, free, seed_list, moments, shown),
                                  starts, free, mcmc_steps, scales=scales)
            accepted = mcmc.thin(chain.draws, max_accepted)
            lowest = min(chain.draws, key=lambda d: d["distance"], default=None)
            if lowest is not None and lowest["distance"] < best_trial.value:
                best, best_from = dict(lowest["parameters"]), (f"draw: chain {lowest['chain']}, "
                                                               f"step {lowest['step']}")
        # a parameter the moments do not depend on (it acts only after the
        # fitted years) is not fitted: the optimum keeps the value the fit
        # started from, not wherever the search left it; the draws still
        # spread it over its prior
        held = fitting.without_effect(prof) if prof is not None else []
        for n in held:
            best[n] = declared[n]
        # the optimum's moments as this code simulates them: a resumed study's
        # trials may have run on earlier code, and the fit file must hold what
        # its regression guard (tests/test_committed_fits.py) will find
        simulated = pool.map(fitting.evaluate, [(scenario, best, seed_list, moments,
                                                 pool.threads)])[0]
        mean, sd = simulated.mean(axis=1), simulated.std(axis=1)
        moment_distance, penalty, best_distance = fitting.objective(
            simulated, best, declared, free, moments)
        bands = None
        if band_seeds > 1:
            base = load_scenario(targets.scenario, fits=fitting.usable_fit(targets, name))
            base = dataclasses.replace(base, scale=scenario.scale)
            echo(f"band split: {base.name} to {base.end_year}, {band_seeds} seeds x 2")
            bands = _band(pool, base, best, [a["parameters"] for a in accepted],
                          tuple(range(band_seeds)))
    provenance = {
        "targets": _relative(targets.path), "targets_sha256": targets.sha256,
        "scenario": scenario.name, "code_version": posterior.code_version(),
        "date": posterior.now(), "seeds": list(seed_list), "scale": float(scenario.scale),
        "end_year": int(scenario.end_year), "trials": len(table["number"]),
        "best_trial": int(best_trial.number), "best": best_from,
        "distance": best_distance,
        "moment_distance": moment_distance, "prior_penalty": penalty,
        "objective": f"moment distance + weak prior (sd {fitting.PRIOR_SD:g} of each prior range, "
                     "centred on the first trial's values)",
        "sampler": "optuna TPE (multivariate), sampler seed 0; first trial: the scenario's values "
                   "without its own or any later fit"
                   + (f"; then the {len(warm)} vectors of {start_from} (--start-from)"
                      if warm else ""),
        "accept_rule": (f"distance <= best + chi2.ppf({posterior.CONFIDENCE}, {len(free)})"
                        if chain is None else
                        f"draws of exp(-distance / 2): random-walk Metropolis, "
                        f"{chains} chains x {mcmc_steps} steps from the best "
                        f"trials, second half kept, thinned to {len(accepted)}"
                        + ("; each parameter's step scaled by its profile's width"
                           if prof is not None else "")),
        "accept_tolerance": round(posterior.tolerance(len(free)), 4),
        "moments": [m.name for m in moments],
        "simulated": [float(v) for v in mean],
        "simulated_sd": [float(v) for v in sd],
    }
    if chain is not None:
        provenance["mcmc_acceptance"] = round(chain.acceptance, 4)
        provenance["mcmc_step"] = round(chain.step, 4)
        provenance["mcmc_evaluations"] = chain.evaluations
    if ident is not None:
        provenance["not_identified"] = [n for n, ok in ident.items() if not ok]
    if held:
        provenance["held_at_start"] = held
    fit_path = fits / f"{name}.toml"
    description = (f"fitted to {provenance['targets']} ({len(targets.fitted)} moments) at scale "
                   f"{scenario.scale:g}, {len(seed_list)} seeds, {provenance['trials']} trials")
    posterior.write_fit(fit_path, name, description, best, provenance, accepted,
                        _builds_on(scenario, fits))
    folder = fits / name
    speed = f"{rate:.1f} trials/minute with {pool.workers} worker(s)" if np.isfinite(rate) else ""
    text = report.markdown(name, provenance, moments, mean, sd, free, best, accepted, table,
                           ident, prof, bands, speed)
    from model.atomic import output_folder
    with output_folder(folder) as path_for:      # the report's files as one set
        report.fit_figure(moments, mean, sd, free, best, accepted, table, path_for("fit.png"))
        if prof is not None:
            report.profile_figure(prof, free, profiled_at, ident, path_for("profile.png"))
        path_for("fit.md").write_text(text, encoding="utf-8")
    moments_table = report.text_table(report.MOMENT_HEAD[:-1],
                                      [r[:-1] for r in report.moments_rows(moments, mean, sd)])
    return Outcome(fit_path, folder / "fit.md", before, result.evaluated, result.recovered,
                   len(table["number"]), best_distance, moments_table, rate)


def _objective(pool, scenario: Scenario, free, seeds, moments, shown=None):
    """The study's objective (moment distance + weak prior) of parameter
    vectors, evaluated in parallel on ``pool``; ``shown``: a progress bar
    advanced by one per vector."""
    centre = fitting.declared_values(scenario, free)

    def objective(vectors: list[dict]) -> list[float]:
        sims = pool.map(fitting.evaluate, [(scenario, v, seeds, moments, pool.threads)
                                           for v in vectors])
        if shown is not None:
            shown.update(len(vectors))
        return [fitting.objective(s, v, centre, free, moments)[2] for s, v in zip(sims, vectors)]
    return objective


def _builds_on(scenario, fits: Path) -> str | None:
    """The nearest fit file the fitted scenario kept (an area fit builds on
    the national fit), relative to the folder the new fit is written to."""
    root = Path(__file__).resolve().parents[2]
    for label in scenario.extends:
        for path in (Path(label), root / label):
            if path.is_file() and path.suffix == ".toml" and "\n[fit]" in path.read_text(
                    encoding="utf-8"):
                return os.path.relpath(path.resolve(), Path(fits).resolve())
    return None


def _relative(path: Path) -> str:
    root = Path(__file__).resolve().parents[2]
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return str(path)
