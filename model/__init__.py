"""povsim: household microsimulation of China's targeted poverty alleviation campaign.

The public API for notebooks and scripts:

- :func:`model.run` — one run of a scenario for one or more seeds, returning an
  ``xarray.Dataset``;
- :func:`model.load_scenario` — the embedded default or a scenario file;
- :class:`model.Parameters` — the declared parameters and overlays.
"""

__version__ = "0.1.0"
