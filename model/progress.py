"""Progress bars where someone watches: on a terminal, or in Jupyter when
ipywidgets is installed (the ``notebook`` extra); never ``\\r`` frames in a
log or a pipe."""

from __future__ import annotations

import importlib.util
import sys


def _in_jupyter() -> bool:
    """True in a Jupyter kernel (an IPython shell with a kernel)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def _on_terminal() -> bool:
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def where() -> str | None:
    """Where a bar would show: ``"jupyter"``, ``"terminal"`` or None."""
    if _in_jupyter():
        return "jupyter" if importlib.util.find_spec("ipywidgets") is not None else None
    return "terminal" if _on_terminal() else None


def bar(total: int, enabled: bool = True, **kwargs):
    """A tqdm progress bar, disabled unless :func:`where` finds a watcher.

    Parameters
    ----------
    total : int
        Steps expected.
    enabled : bool
        False disables the bar everywhere.
    **kwargs
        Passed to tqdm (``desc``, ``unit``, ``initial``, ``delay``...).
    """
    place = where() if enabled else None
    if place == "jupyter":
        from tqdm.notebook import tqdm
        kwargs.pop("dynamic_ncols", None)
        return tqdm(total=total, **kwargs)
    from tqdm import tqdm
    return tqdm(total=total, disable=place is None, **kwargs)
