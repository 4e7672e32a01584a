"""Calibration and back-test.

The published record up to the fit year is a set of observed moments
(:mod:`~model.calibration.targets`, read from ``calibration/targets.toml``),
each compared with a named function of a run's results
(:mod:`~model.calibration.moments`). The free parameters (declared with a
``calibrate`` prior in ``model/parameters.toml``) are fitted by simulated
method of moments with Optuna (:mod:`~model.calibration.fit`); the parameter
vectors the data cannot tell apart are kept (:mod:`~model.calibration.posterior`)
so that forecast bands carry parameter uncertainty. A back-test fits up to a
year and scores the following years against naive trend baselines
(:mod:`~model.calibration.backtest`). :mod:`~model.calibration.report` writes
the fit report.
"""
