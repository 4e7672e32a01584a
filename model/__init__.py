"""povsim: household microsimulation of China's targeted poverty alleviation campaign.

The public API for notebooks and scripts:

- :func:`model.run` — one run of a scenario for one or more seeds, returning an
  ``xarray.Dataset``;
- :func:`model.load_scenario` — the embedded default or a scenario file;
- :class:`model.Parameters` — the declared parameters and overlays.
"""

__version__ = "0.1.0"


def __getattr__(name):
    # lazy, so that ``import model`` stays cheap (numba and xarray load on first use)
    if name == "run":
        from model.runs import run
        return run
    if name == "load_scenario":
        from model.scenario import load_scenario
        return load_scenario
    if name == "Parameters":
        from model.params import Parameters
        return Parameters
    raise AttributeError(f"module 'model' has no attribute {name!r}")


__all__ = ["run", "load_scenario", "Parameters", "__version__"]
