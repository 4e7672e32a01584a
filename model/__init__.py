"""povsim: household microsimulation of China's targeted poverty alleviation campaign.

The public API for notebooks and scripts:

- :func:`model.run` — one run of a scenario for one or more seeds, returning an
  ``xarray.Dataset``;
- :func:`model.load_scenario` — the embedded default or a scenario file;
- :class:`model.Parameters` — the declared parameters and overlays;
- :func:`model.tidy` — long tables of a run, one group of variables at a
  time (never the product of every dimension), :func:`model.tidy_groups`;
- ``scenario.with_parameters({...})``, ``scenario.with_programme(name, ...)``
  — changed copies of a scenario, checked as files are.
"""

__version__ = "0.1.0"

from model import kernel_cache as _kernel_cache

_kernel_cache.configure()  # before numba loads: compiled kernels keyed by their code


def __getattr__(name):
    # lazy, so that ``import model`` stays cheap (numba and xarray load on first use)
    if name == "run":
        from model.runs import run
        return run
    if name == "load_scenario":
        from model.scenario import load_scenario
        return load_scenario
    if name in ("tidy", "tidy_groups"):
        from model import frames
        return getattr(frames, name)
    if name == "Parameters":
        from model.params import Parameters
        return Parameters
    raise AttributeError(f"module 'model' has no attribute {name!r}")


__all__ = ["Parameters", "__version__", "load_scenario", "run", "tidy", "tidy_groups"]
