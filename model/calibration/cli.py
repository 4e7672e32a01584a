"""``povsim calibrate`` and ``povsim backtest``: arguments and printed output."""

from __future__ import annotations

import time
from pathlib import Path

from model.errors import PovsimError


def _year(text: str) -> int:
    import argparse

    from model.cli import whole_number
    from model.params import FIRST_YEAR, LAST_YEAR
    value = whole_number(text)
    if not FIRST_YEAR <= value <= LAST_YEAR:
        raise argparse.ArgumentTypeError(f"{value} is not a year from {FIRST_YEAR} to {LAST_YEAR}")
    return value


def _count(text: str) -> int:
    from model.cli import whole_number
    return whole_number(text, minimum=0)


def add_parsers(sub, positive, share) -> None:
    """Add the two subcommands to the ``povsim`` parser's subparsers."""
    cal = sub.add_parser(
        "calibrate", help="fit the free parameters to observed moments (simulated method of "
                          "moments)",
        description="Fit the free parameters (declared with a calibrate prior in "
                    "model/parameters.toml) to the moments of a targets file by simulated method "
                    "of moments: Optuna TPE, the same seeds every trial, trials in parallel. "
                    "Writes calibration/fits/NAME.toml (a scenario overlay with provenance and "
                    "the accepted parameter vectors) and its report in calibration/fits/NAME/.")
    cal.add_argument("targets", type=Path, help="targets file, e.g. calibration/targets.toml")
    cal.add_argument("--trials", type=positive, default=50,
                     help="completed trials the study holds at the end (default 50)")
    cal.add_argument("--seeds", type=positive, default=2,
                     help="seeds 0..K-1, the same every trial (default 2)")
    cal.add_argument("--scale", type=share, help="share of households simulated (default: the "
                                                 "scenario's)")
    cal.add_argument("--workers", type=positive, help="worker processes (default: one per "
                                                      "core; 1 runs in this process)")
    cal.add_argument("--resume", action="store_true",
                     help="continue the study of this name without repeating finished trials")
    cal.add_argument("--name", help="fit name (default: the targets' scenario name)")
    cal.add_argument("--profile-points", type=_count, default=5,
                     help="points of each parameter's distance profile (default 5; 0: none)")
    cal.add_argument("--mcmc-steps", type=_count, default=0,
                     help="steps of a Metropolis chain per worker from the best trials; its "
                          "draws become the accepted set (default 0: the trials within the "
                          "chi-square tolerance)")
    cal.add_argument("--start-from", metavar="FIT",
                     help="a fit (name or file) whose optimum and accepted vectors are a new "
                          "study's first trials after the declared values, to refit after a "
                          "change of the code")
    cal.add_argument("--band-seeds", type=_count, default=8,
                     help="seeds of the parameter-versus-seed band split (default 8; 0: none)")
    back = sub.add_parser(
        "backtest", help="fit up to a year, forecast the later years and score against naive "
                         "baselines",
        description="Fit (or reuse --fit, or the committed fit of the same moments) on the "
                    "targets up to --fit-until, forecast every later "
                    "year of --observed, and score the forecast and three naive baselines "
                    "(constant last reduction, linear trend, log-linear trend) by absolute "
                    "percentage error and MAPE. Writes backtest.txt and backtest.png.")
    back.add_argument("--fit-until", type=_year, required=True, help="last year fitted")
    back.add_argument("--observed", type=Path, required=True,
                      help="observed series in the format of national_headcount.csv")
    back.add_argument("--fit", help="a fit name or file to reuse instead of fitting (default: "
                                    "the committed fit when it was made from exactly the "
                                    "moments up to --fit-until, else a new fit)")
    back.add_argument("--refit", action="store_true",
                      help="fit anew even when a committed fit covers the same moments")
    back.add_argument("--targets", type=Path, default=None,
                      help="targets file (default calibration/targets.toml)")
    back.add_argument("--indicator", default="poor_population",
                      help="indicator of the observed file (default poor_population)")
    back.add_argument("--trials", type=positive, default=50, help="trials of the fit (default 50)")
    back.add_argument("--seeds", type=positive, default=2, help="seeds of the fit (default 2)")
    back.add_argument("--forecast-seeds", type=positive, default=10,
                      help="seeds of the forecast fan (default 10)")
    back.add_argument("--scale", type=share,
                      help="share of households simulated (default: the reused fit's, else 0.01)")
    back.add_argument("--workers", type=positive, help="worker processes (default: one per core)")
    back.add_argument("--posterior", action="store_true",
                      help="seed i of the forecast uses the fit's accepted vector i mod n")
    back.add_argument("--mcmc-steps", type=_count, default=0,
                      help="Metropolis steps per worker after the fit; the draws become its "
                           "accepted set (default 0)")
    back.add_argument("--out", type=Path, help="output folder (default outputs/backtest-YEAR)")


def _targets_path(path: Path | None) -> Path:
    if path is not None:
        return path
    here = Path("calibration") / "targets.toml"
    if here.is_file():
        return here
    return Path(__file__).resolve().parents[2] / "calibration" / "targets.toml"


def main(args) -> int:
    """Run ``povsim calibrate`` or ``povsim backtest``."""
    from model.atomic import check_output_folder

    start = time.perf_counter()
    if args.command == "calibrate":
        from model.calibration import posterior
        from model.calibration.calibrate import calibrate
        check_output_folder(posterior.fits_folder(), "calibration/fits")
        if args.name is not None and not args.name.replace("-", "").replace("_", "").isalnum():
            raise PovsimError(f"--name {args.name!r}: expected letters, digits, '-' or '_'")
        done = calibrate(args.targets, trials=args.trials, seeds=args.seeds, scale=args.scale,
                         workers=args.workers, resume=args.resume, name=args.name,
                         profile_points=args.profile_points, band_seeds=args.band_seeds,
                         mcmc_steps=args.mcmc_steps, start_from=args.start_from)
        print(done.moments_table)
        print(f"\ntrials: {done.completed_before} completed before, {done.evaluated} run now"
              + (f" ({done.recovered} left running by a killed run, tried again)"
                 if done.recovered else "")
              + f", {done.completed_after} completed; best distance {done.distance:.4g}")
        if done.evaluated:
            print(f"speed: {done.trials_per_minute:.1f} trials/minute")
        print(f"wrote {done.fit_path} and {done.report_path} "
              f"({time.perf_counter() - start:.1f} s)")
        return 0
    from model.calibration.backtest import backtest
    check_output_folder(args.out or Path("outputs") / f"backtest-{args.fit_until}")
    result = backtest(args.fit_until, args.observed, fit=args.fit,
                      targets=_targets_path(args.targets), indicator=args.indicator,
                      trials=args.trials, seeds=args.seeds, forecast_seeds=args.forecast_seeds,
                      scale=args.scale, workers=args.workers, use_posterior=args.posterior,
                      out=args.out, mcmc_steps=args.mcmc_steps, refit=args.refit)
    print(result.table())
    out = args.out or Path("outputs") / f"backtest-{args.fit_until}"
    print(f"wrote {out / 'backtest.txt'} and {out / 'backtest.png'} "
          f"({time.perf_counter() - start:.1f} s)")
    return 0
