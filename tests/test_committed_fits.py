"""Regression guard: every committed fit (calibration/fits/*.toml) still
reproduces its moments with the current code.

Each fit is rerun at its own scale and seeds with its best parameters; every
fitted moment must come within half its observation's standard deviation of
the value recorded in the fit, and the distance within 10 % of it. A change
of the model that moves the fitted moments more than that needs a new fit
(``povsim calibrate``): the fit file says with which command.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.calibration import fit as fitting
from model.calibration import posterior
from model.calibration.targets import load_targets

REPO = Path(__file__).resolve().parents[1]
FITS = sorted((REPO / "calibration" / "fits").glob("*.toml"))
DATA = REPO.parent / "shared" / "data"
MOMENT_TOLERANCE = 0.5     # in standard deviations of the observation
DISTANCE_TOLERANCE = 0.10  # relative


@pytest.mark.skipif(not DATA.is_dir(), reason="the published data folder is not beside the repo")
@pytest.mark.parametrize("path", FITS, ids=[p.stem for p in FITS])
def test_committed_fit_reproduces_its_moments(path):
    data = posterior.read_fit(path)
    fit = data["fit"]
    targets = load_targets(REPO / fit["targets"])
    assert targets.sha256 == fit["targets_sha256"], (
        f"{path.name}: {fit['targets']} changed since the fit: refit")
    scenario = fitting.problem_scenario(targets, fit["scale"])
    assert scenario.end_year == fit["end_year"]
    sim = fitting.evaluate(scenario, data["parameters"], tuple(fit["seeds"]), targets.moments)
    recorded = dict(zip(fit["moments"], fit["simulated"]))
    for k, m in enumerate(targets.moments):
        if m.role != "fit":
            continue
        now = float(np.mean(sim[k]))
        assert abs(now - recorded[m.name]) <= MOMENT_TOLERANCE * m.sd, (
            f"{path.name}: moment {m.name} is now {now:.6g}, the fit recorded "
            f"{recorded[m.name]:.6g} (observed {m.value:g} ± {m.sd:.3g}): refit")
    d = fitting.distance(sim, targets.moments)
    # the objective adds the weak prior to the moment distance (model.calibration.fit)
    assert d == pytest.approx(fit.get("moment_distance", fit["distance"]), rel=DISTANCE_TOLERANCE)
