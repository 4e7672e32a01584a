"""Analysis of runs: scenario comparison against targets
(:mod:`~model.analysis.compare`), reports (:mod:`~model.analysis.report`) and
charts (:mod:`~model.analysis.charts`, :mod:`~model.analysis.run_chart`)."""
