"""Sweeps: many runs over a design of parameter values, streamed to a Zarr
store, resumable, and analysed for sensitivity (``povsim sweep``).

- :mod:`model.sweep.spec`: sweep files and quick sweeps from the command line;
- :mod:`model.sweep.design`: the points (grid, Latin hypercube, Sobol, Morris);
- :mod:`model.sweep.execute`: one task per (scenario, point, seed) on Dask;
- :mod:`model.sweep.store`: the Zarr store, what is done, resuming;
- :mod:`model.sweep.analyse` and :mod:`model.sweep.charts`: indices,
  thresholds, ``sweep.md`` and the charts;
- :mod:`model.sweep.cli`: the ``povsim sweep`` command.
"""
